import 'reflect-metadata';
import { rebuild, runScript } from '@berth/service-kit';
import { containersService } from './definition';

runScript('containers projections rebuild', () => rebuild(containersService));
