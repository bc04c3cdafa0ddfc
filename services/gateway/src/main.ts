import { Logger } from '@nestjs/common';
import { gatewayConfig } from './config';
import { startGateway } from './gateway';

async function main(): Promise<void> {
  const gateway = await startGateway(gatewayConfig());
  const stop = (signal: string) => {
    new Logger('gateway').log(`${signal}: shutting down`);
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((e: Error) => {
  new Logger('gateway').fatal(e.message, e.stack);
  process.exit(1);
});
