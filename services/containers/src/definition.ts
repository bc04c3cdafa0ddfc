import { ContainerPatterns } from '@berth/contracts';
import type { DomainServiceDefinition } from '@berth/service-kit';
import { containerViewProjection } from './container/projections/container-view.projection';
import { ContainersView1732300000000 } from './migrations/1732300000000-container_view';
import { ContainerState1732500000000 } from './migrations/1732500000000-container-state';
import { ContainersModule } from './containers.module';

export const containersService: DomainServiceDefinition = {
  service: 'containers',
  module: ContainersModule,
  migrations: [ContainersView1732300000000, ContainerState1732500000000],
  projections: [containerViewProjection],
  // a `docker run -d` leaves its wait behind while the container runs
  longPolls: [ContainerPatterns.wait, ContainerPatterns.execWait],
};
