import 'reflect-metadata';
import { main } from '@berth/service-kit';
import { imagesService } from './definition';

main(imagesService);
