import { Module } from '@nestjs/common';
import { ContainerRegistry } from './container/container.registry';
import { ContainersController } from './container/containers.controller';
import { ContainersService } from './container/containers.service';
import { HealthChecker } from './container/health/health-checker';
import { NetworkAdapter } from './container/network.adapter';
import { ObservationsConsumer } from './container/observations.consumer';
import { RuntimeAdapter } from './container/runtime.adapter';
import { VolumeAdapter } from './container/volume.adapter';

@Module({
  controllers: [ContainersController],
  providers: [ContainerRegistry, ContainersService, RuntimeAdapter, NetworkAdapter, ObservationsConsumer, HealthChecker, VolumeAdapter],
})
export class ContainersModule {}
