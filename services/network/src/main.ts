import 'reflect-metadata';
import { main } from '@berth/service-kit';
import { networkService } from './definition';

main(networkService);
