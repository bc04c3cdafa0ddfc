import type { DomainServiceDefinition } from '@berth/service-kit';
import { NetworkView1732300000000 } from './migrations/1732300000000-network_view';
import { NetworkModule } from './network.module';

export const networkService: DomainServiceDefinition = {
  service: 'network',
  module: NetworkModule,
  migrations: [NetworkView1732300000000],
  projections: [],
};
