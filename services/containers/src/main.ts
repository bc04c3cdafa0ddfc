import 'reflect-metadata';
import { main } from '@berth/service-kit';
import { containersService } from './definition';

main(containersService);
