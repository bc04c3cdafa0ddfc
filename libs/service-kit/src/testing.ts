/**
 * Test support for domain-service int tests (not exported from the main entry): one call boots a
 * service in-process and the REAL executor process on a per-run database, Redis namespace and data root,
 * plus an RPC client; `stop()` removes all of it.
 */
import { type BerthConfig, loadConfig } from '@berth/config';
import { RedisRpcClient } from '@berth/messaging';
import {
  createTempDir,
  createTestDatabase,
  createTestNamespace,
  removeNamespaceNetworking,
  type TempDir,
  type TestDatabase,
  type TestNamespace,
} from '@berth/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DomainServiceDefinition } from './definition';
import { runDomainService, type RunningService } from './run';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
/** executor-native/dist/main.js in this checkout (libs/service-kit/dist -> repo root). */
export const EXECUTOR_MAIN = resolve(REPO_ROOT, 'executor-native', 'dist', 'main.js');

export interface TestNode {
  readonly config: BerthConfig;
  /** The berth.json written for this run (what BERTH_CONFIG points at). */
  readonly configFile: string;
  readonly dir: TempDir;
  readonly db: TestDatabase;
  readonly ns: TestNamespace;
  readonly service: RunningService;
  readonly executor: ChildProcess;
  readonly rpc: RedisRpcClient;
  /** Kill -9 or stop the executor and start a new one on the same config (live-restore tests). */
  restartExecutor(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export interface TestNodeOptions {
  /** Extra berth.json keys (e.g. default-address-pools). */
  readonly config?: Record<string, unknown>;
  readonly rpcTimeoutMs?: number;
  /** Use this namespace (when the test derives names from it before the node starts). */
  readonly namespace?: TestNamespace;
  /** Other Berth processes to run beside the executor, as repo-relative compiled mains (e.g. services/network/dist/main.js). */
  readonly alsoRun?: readonly string[];
}

function spawnMain(main: string, configFile: string): ChildProcess {
  return spawn(process.execPath, [main], {
    env: { ...process.env, BERTH_CONFIG: configFile },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

export async function startTestNode(def: DomainServiceDefinition, options: TestNodeOptions = {}): Promise<TestNode> {
  const ns = options.namespace ?? createTestNamespace();
  const dir = createTempDir();
  const db = await createTestDatabase();
  const configFile = join(dir.path, 'berth.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      'data-root': join(dir.path, 'root'),
      // Its own exec root (the executor's stream socket lives there), never the host's /run/berth.
      'exec-root': join(dir.path, 'exec'),
      hosts: [`unix://${join(dir.path, 'docker.sock')}`],
      postgres: db.url,
      redis: ns.redisUrl,
      namespace: ns.namespace,
      'node-id': 'test-node',
      'log-level': 'warn',
      // A test run does not change host-wide kernel settings (cgroup-dynmods.int.spec tests that one).
      'cgroup-favor-dynmods': false,
      ...options.config,
    }),
  );
  const config = loadConfig({ BERTH_CONFIG: configFile });
  let executor = spawnMain(EXECUTOR_MAIN, configFile);
  const others = (options.alsoRun ?? []).map((main) => spawnMain(resolve(REPO_ROOT, main), configFile));
  let service: RunningService | undefined;
  let rpc: RedisRpcClient | undefined;
  const stop = async () => {
    await rpc?.close();
    await service?.close();
    for (const child of others) await stopChild(child);
    await stopChild(executor);
    removeNamespaceNetworking(ns.namespace);
    await db.drop();
    await ns.cleanup();
    dir.remove();
  };
  try {
    service = await runDomainService(def, config);
    rpc = new RedisRpcClient({ redisUrl: ns.redisUrl, namespace: ns.namespace, defaultTimeoutMs: options.rpcTimeoutMs ?? 30_000 });
    await rpc.connect();
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    config,
    configFile,
    dir,
    db,
    ns,
    service,
    rpc,
    get executor() {
      return executor;
    },
    async restartExecutor(signal: NodeJS.Signals = 'SIGKILL') {
      await stopChild(executor, signal);
      executor = spawnMain(EXECUTOR_MAIN, configFile);
    },
    stop,
  };
}
