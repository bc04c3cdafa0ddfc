import 'reflect-metadata';
import { migrate, runScript } from '@berth/service-kit';
import { networkService } from './definition';

runScript('network migrate', () => migrate(networkService));
