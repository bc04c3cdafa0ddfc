import { Module } from '@nestjs/common';
import { NetworkController } from './network.controller';
import { NetworkRepository } from './network/network.repository';
import { NetworksService } from './network/network.service';

@Module({ controllers: [NetworkController], providers: [NetworksService, NetworkRepository] })
export class NetworkModule {}
