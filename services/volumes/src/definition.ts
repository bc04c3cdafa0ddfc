import type { DomainServiceDefinition } from '@berth/service-kit';
import { VolumeView1732300000000 } from './migrations/1732300000000-volume-view';
import { volumeViewProjection } from './volume/projections/volume-view.projection';
import { VolumesModule } from './volumes.module';

export const volumesService: DomainServiceDefinition = {
  service: 'volumes',
  module: VolumesModule,
  migrations: [VolumeView1732300000000],
  projections: [volumeViewProjection],
};
