import type { DomainServiceDefinition } from '@berth/service-kit';
import { VolumeView1732300000000 } from './migrations/1732300000000-volume-view';
import { VolumeRefs1732300000001 } from './migrations/1732300000001-volume-refs';
import { volumeViewProjection } from './volume/projections/volume-view.projection';
import { VolumesModule } from './volumes.module';

export const volumesService: DomainServiceDefinition = {
  service: 'volumes',
  module: VolumesModule,
  migrations: [VolumeView1732300000000, VolumeRefs1732300000001],
  projections: [volumeViewProjection],
};
