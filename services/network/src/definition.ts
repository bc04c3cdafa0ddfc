import type { DomainServiceDefinition } from '@berth/service-kit';
import { NetworkView1732300000000 } from './migrations/1732300000000-network_view';
import { NetworkEndpoints1732400000000 } from './migrations/1732400000000-network-endpoints';
import { networkViewProjection } from './network/projections/network-view.projection';
import { NetworkModule } from './network.module';

export const networkService: DomainServiceDefinition = {
  service: 'network',
  module: NetworkModule,
  migrations: [NetworkView1732300000000, NetworkEndpoints1732400000000],
  projections: [networkViewProjection],
};
