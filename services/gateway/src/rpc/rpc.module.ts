import { Global, Inject, Logger, Module, OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import { RedisRpcClient, RpcClient } from '@berth/messaging';
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

/** Request/reply to the domain services over Redis (libs/messaging). */
@Global()
@Module({ providers: [rpcClientProvider], exports: [RpcClient] })
export class RpcModule implements OnApplicationShutdown {
  constructor(@Inject(RpcClient) private readonly rpc: RpcClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.rpc.close();
  }
}
