import 'reflect-metadata';
import { main } from '@berth/service-kit';
import { volumesService } from './definition';

main(volumesService);
