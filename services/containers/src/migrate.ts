import 'reflect-metadata';
import { migrate, runScript } from '@berth/service-kit';
import { containersService } from './definition';

runScript('containers migrate', () => migrate(containersService));
