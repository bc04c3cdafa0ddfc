import { Module } from '@nestjs/common';
import { VolumeRepository } from './volume/volume.repository';
import { VolumesController } from './volume/volumes.controller';
import { VolumesService } from './volume/volumes.service';

@Module({ controllers: [VolumesController], providers: [VolumesService, VolumeRepository] })
export class VolumesModule {}
