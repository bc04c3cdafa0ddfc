import { Module } from '@nestjs/common';
import { ImagesModule } from '../images/images.module';
import { ExecController } from '../exec/exec.controller';
import { ArchiveController } from './archive.controller';
import { ContainersController } from './containers.controller';
import { ContainersService } from './containers.service';
import { HijackService } from './hijack.service';

@Module({ imports: [ImagesModule], controllers: [ArchiveController, ContainersController, ExecController], providers: [ContainersService, HijackService] })
export class ContainersModule {}
