import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { HostFacts } from './host-facts';
import { SystemInfoService } from './system-info.service';
import { SystemController } from './system.controller';
import { VersionService } from './version.service';

@Module({
  imports: [EventsModule],
  controllers: [SystemController],
  providers: [HostFacts, VersionService, SystemInfoService],
})
export class SystemModule {}
