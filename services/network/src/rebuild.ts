import 'reflect-metadata';
import { rebuild, runScript } from '@berth/service-kit';
import { networkService } from './definition';

runScript('network projections rebuild', () => rebuild(networkService));
