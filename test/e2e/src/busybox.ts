/**
 * The fixture most e2e suites share: a loopback registry holding a busybox image the test builds from
 * Debian's busybox-static, and a Berth that has pulled it through the real docker CLI.
 */
import { after, before } from 'node:test';
import { parseReference, RegistryClient } from '@berth/oci';
import { buildImage, buildLayer, busyboxRootfsEntries, pushImage, startTestRegistry, type TestRegistry } from '@berth/oci/dist/testing';
import { startBerth, type RunningBerth, type StartOptions } from './harness';

export const BUSYBOX_CONFIG = { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] };

export interface BusyboxBerth {
  readonly berth: RunningBerth;
  readonly reg: TestRegistry;
  /** `<registry>/busybox:1`, already pulled into the Berth */
  readonly image: string;
  stop(): Promise<void>;
}

export async function startBerthWithBusybox(opts: StartOptions = {}): Promise<BusyboxBerth> {
  const client = new RegistryClient();
  const reg = await startTestRegistry();
  let berth: RunningBerth | undefined;
  const stop = async () => {
    await berth?.stop();
    await reg.stop();
    await client.close();
  };
  try {
    const image = `${reg.host}/busybox:1`;
    const busybox = buildImage([await buildLayer(busyboxRootfsEntries())], { config: BUSYBOX_CONFIG });
    await pushImage(client.repository(parseReference(image), undefined, { push: true }), busybox, '1');
    berth = await startBerth(opts);
    await berth.docker(['pull', image], { timeoutMs: 120_000 });
    return { berth, reg, image, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/**
 * For the suite being declared: the fixture is started before its tests (`use` gets it, to set the
 * suite's bindings) and stopped after them.
 */
export function withBerthAndBusybox(use: (fixture: BusyboxBerth) => void, opts: StartOptions = {}): void {
  let fixture: BusyboxBerth | undefined;
  before(async () => {
    fixture = await startBerthWithBusybox(opts);
    use(fixture);
  }, { timeout: 300_000 });
  after(async () => {
    await fixture?.stop();
  }, { timeout: 180_000 });
}
