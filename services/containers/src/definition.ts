import type { DomainServiceDefinition } from '@berth/service-kit';
import { ContainersView1732300000000 } from './migrations/1732300000000-container_view';
import { ContainersModule } from './containers.module';

export const containersService: DomainServiceDefinition = {
  service: 'containers',
  module: ContainersModule,
  migrations: [ContainersView1732300000000],
  projections: [],
};
