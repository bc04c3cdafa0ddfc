import { config } from './config';
import { startExecutorHost } from './host/executor-host';

if (process.getuid?.() !== 0) {
  console.error('berth-executor: must run as root (it does the namespace, cgroup and mount work)');
  process.exit(1);
}

startExecutorHost(config).then(
  (host) => {
    const stop = (signal: string) => {
      console.log(`berth-executor: ${signal}, shutting down (containers keep running)`);
      host.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    console.log(`berth-executor: ready on node ${config.nodeId} (pid ${process.pid})`);
  },
  (e: unknown) => {
    console.error(`berth-executor: failed to start: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
  },
);
