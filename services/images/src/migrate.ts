import 'reflect-metadata';
import { migrate, runScript } from '@berth/service-kit';
import { imagesService } from './definition';

runScript('images migrate', () => migrate(imagesService));
