import type { DomainServiceDefinition } from '@berth/service-kit';
import { ImagesView1732300000000 } from './migrations/1732300000000-image_view';
import { ImagesModule } from './images.module';

export const imagesService: DomainServiceDefinition = {
  service: 'images',
  module: ImagesModule,
  migrations: [ImagesView1732300000000],
  projections: [],
};
