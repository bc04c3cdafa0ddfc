import type { DomainServiceDefinition } from '@berth/service-kit';
import { imageViewProjection } from './image/projections/image-view.projection';
import { ImagesModule } from './images.module';
import { ImagesView1732300000000 } from './migrations/1732300000000-image_view';
import { ImageTables1732500000000 } from './migrations/1732500000000-image-tables';

export const imagesService: DomainServiceDefinition = {
  service: 'images',
  module: ImagesModule,
  migrations: [ImagesView1732300000000, ImageTables1732500000000],
  projections: [imageViewProjection],
};
