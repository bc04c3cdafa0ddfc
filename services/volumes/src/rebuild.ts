import 'reflect-metadata';
import { rebuild, runScript } from '@berth/service-kit';
import { volumesService } from './definition';

runScript('volumes projections rebuild', () => rebuild(volumesService));
