import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { ImageResolveCache } from './image-resolve.cache';
import { ImagesController } from './images.controller';
import { ImagesService } from './images.service';

@Module({ imports: [EventsModule], controllers: [ImagesController], providers: [ImagesService, ImageResolveCache], exports: [ImageResolveCache] })
export class ImagesModule {}
