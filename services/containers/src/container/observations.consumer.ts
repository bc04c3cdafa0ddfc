import {
  ContainerObservation,
  type ContainerObservationData,
  type ExecutorObservation,
  OBSERVATIONS_STREAM,
} from '@berth/contracts';
import type { BerthConfig } from '@berth/config';
import { StreamConsumer } from '@berth/messaging';
import { BERTH_CONFIG } from '@berth/service-kit';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ContainersService } from './containers.service';

/**
 * The executor's observations (exits, OOM kills, lost shims, exec exits) -> recorded facts. Handlers
 * are idempotent per run (decide ignores an exit of a run that is not the current one), so the
 * stream's redeliveries are harmless.
 */
@Injectable()
export class ObservationsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('observations');
  private consumer?: StreamConsumer<ExecutorObservation>;

  constructor(
    private readonly containers: ContainersService,
    @Inject(BERTH_CONFIG) private readonly config: BerthConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.consumer = new StreamConsumer<ExecutorObservation>({
      redisUrl: this.config.redisUrl,
      namespace: this.config.namespace,
      stream: OBSERVATIONS_STREAM,
      group: 'containers',
      consumer: `containers-${this.config.nodeId}`,
      blockMs: 2000,
      handler: (o) => this.handle(o),
    });
    await this.consumer.start();
    // After the consumer runs: exits recorded while we were down arrive first, then reconcile.
    setTimeout(() => void this.containers.reconcile().catch((e: Error) => this.logger.warn(`reconcile: ${e.message}`)), 500).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }

  async handle(o: ExecutorObservation): Promise<void> {
    const id = o.subject;
    switch (o.kind) {
      case ContainerObservation.Started: {
        const d = o.data as unknown as ContainerObservationData[ContainerObservation.Started];
        await this.containers.onStarted(id, d.pid, d.startedAt);
        return;
      }
      case ContainerObservation.Exited: {
        const d = o.data as unknown as ContainerObservationData[ContainerObservation.Exited];
        await this.containers.onExited(id, { exitCode: d.exitCode, oomKilled: d.oomKilled, finishedAt: d.exitedAt, startedAt: d.startedAt });
        return;
      }
      case ContainerObservation.ShimLost: {
        const d = o.data as unknown as ContainerObservationData[ContainerObservation.ShimLost];
        await this.containers.onExited(id, { exitCode: 137, oomKilled: false, finishedAt: o.observedAt, startedAt: d.startedAt ?? '' });
        return;
      }
      case ContainerObservation.ExecStarted: {
        const d = o.data as unknown as ContainerObservationData[ContainerObservation.ExecStarted];
        await this.containers.onExecStarted(id, d.execId, d.pid);
        return;
      }
      case ContainerObservation.ExecExited: {
        const d = o.data as unknown as ContainerObservationData[ContainerObservation.ExecExited];
        await this.containers.onExecExited(id, d.execId, d.exitCode);
        return;
      }
      default:
        return;
    }
  }
}
