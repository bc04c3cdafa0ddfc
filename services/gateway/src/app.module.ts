import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import { GATEWAY_CONFIG } from './config';
import { DatabaseModule } from './database/database.module';
import { EventsModule } from './events/events.module';
import { HttpServers } from './http/http-servers';
import { RpcModule } from './rpc/rpc.module';
import { SYSTEM_IDENTITY, type SystemIdentity } from './system/system-identity';
import { SystemModule } from './system/system.module';
import { VolumesModule } from './volumes/volumes.module';
import { ContainersModule } from './containers/containers.module';
import { NetworksModule } from './networks/networks.module';
import { ImagesModule } from './images/images.module';

@Global()
@Module({})
class CoreModule {
  static forRoot(config: BerthConfig, identity: SystemIdentity, servers: HttpServers): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: SYSTEM_IDENTITY, useValue: identity },
        { provide: HttpServers, useValue: servers },
      ],
      exports: [GATEWAY_CONFIG, SYSTEM_IDENTITY, HttpServers],
    };
  }
}

@Module({})
export class AppModule {
  static forRoot(config: BerthConfig, identity: SystemIdentity, servers: HttpServers): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, identity, servers),
        DatabaseModule,
        RpcModule,
        EventsModule,
        SystemModule,
        VolumesModule,
        ContainersModule,
        NetworksModule,
        ImagesModule,
      ],
    };
  }
}
