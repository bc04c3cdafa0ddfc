import { Global, Inject, Logger, Module, OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import type { DomainService } from '@berth/contracts';
import { GenerationWatch, RedisRpcClient, RpcClient } from '@berth/messaging';
import { GATEWAY_CONFIG } from '../config';

const rpcClientProvider: Provider = {
  provide: RpcClient,
  inject: [GATEWAY_CONFIG],
  useFactory: (config: BerthConfig) => {
    const client = new RedisRpcClient({
      redisUrl: config.redisUrl,
      namespace: config.namespace,
      clientId: `gateway-${config.nodeId}-${process.pid}`,
      defaultTimeoutMs: config['rpc-timeout-ms'],
    });
    // Connect in the background: the gateway answers (/_ping, /version, /info with warnings) while
    // Redis is still coming up, and every request carries its own timeout.
    client.connect().catch((e: Error) => new Logger('rpc').warn(`redis: ${e.message}`));
    return client;
  },
};

/** The services' pushed generation tokens, read on the RPC client's reply connection (ordered with replies). */
const generationWatchProvider: Provider = {
  provide: GenerationWatch,
  inject: [GATEWAY_CONFIG, RpcClient],
  useFactory: (config: BerthConfig, rpc: RpcClient) => {
    const watch = new GenerationWatch({
      namespace: config.namespace,
      services: ['containers', 'network'] satisfies DomainService[],
      subscriber: rpc instanceof RedisRpcClient ? rpc : null,
    });
    watch.start();
    return watch;
  },
};

/** Request/reply to the domain services over Redis (libs/messaging). */
@Global()
@Module({ providers: [rpcClientProvider, generationWatchProvider], exports: [RpcClient, GenerationWatch] })
export class RpcModule implements OnApplicationShutdown {
  constructor(@Inject(RpcClient) private readonly rpc: RpcClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.rpc.close();
  }
}
