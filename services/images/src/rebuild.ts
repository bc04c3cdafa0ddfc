import 'reflect-metadata';
import { rebuild, runScript } from '@berth/service-kit';
import { imagesService } from './definition';

runScript('images projections rebuild', () => rebuild(imagesService));
