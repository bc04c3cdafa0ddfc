import { Module } from '@nestjs/common';
import { ImageRepository } from './image/image.repository';
import { ImagesController } from './image/images.controller';
import { ImagesService } from './image/images.service';
import { ProgressChannel } from './image/progress';

@Module({ controllers: [ImagesController], providers: [ImagesService, ImageRepository, ProgressChannel] })
export class ImagesModule {}
