import 'reflect-metadata';
import { migrate, runScript } from '@berth/service-kit';
import { volumesService } from './definition';

runScript('volumes migrate', () => migrate(volumesService));
