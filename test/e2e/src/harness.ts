/**
 * End-to-end harness: a real Berth on a throw-away configuration (own data root, socket, Postgres
 * database, Redis namespace, node id), started and stopped with the real `./berth` command and driven
 * by the real docker CLI.
 *
 *   const berth = await startBerth();
 *   const out = await berth.docker(['version']);
 *   await berth.stop();
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BerthConfigInput } from '@berth/config';
import { createTempDir, createTestDatabase, createTestNamespace, randomSuffix, removeNamespaceNetworking, unmountStateTmpfs } from '@berth/testing';

const readJson = <T>(path: string): T | null => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
};
const processName = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
};
const processCgroups = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return '';
  }
};

/**
 * What a reboot does to the containers of one data root: every berth-shim (container and exec) and
 * every container process is SIGKILLed, nothing is recorded (no exit.json). Only processes proven to
 * be ours are touched: a shim by its name, a container's init by its cgroup `berth/<id>`.
 */
export async function killContainerProcesses(execRoot: string): Promise<number> {
  const stateRoot = join(execRoot, 's');
  const runs: { shimPid?: number; pid?: number; containerId?: string }[] = [];
  for (const name of existsSync(stateRoot) ? readdirSync(stateRoot) : []) {
    const dir = join(stateRoot, name);
    const run = readJson<{ shimPid?: number; pid?: number; containerId?: string }>(join(dir, 'run.json'));
    if (run) runs.push(run);
    for (const sub of readdirSync(dir)) {
      const execRun = sub.startsWith('e') ? readJson<{ shimPid?: number; pid?: number }>(join(dir, sub, 'run.json')) : null;
      if (execRun) runs.push({ shimPid: execRun.shimPid });
    }
  }
  const victims: number[] = [];
  // shims first, so none of them sees its container die and records the exit
  for (const r of runs) if (r.shimPid && processName(r.shimPid) === 'berth-shim') victims.push(r.shimPid);
  for (const pid of victims) process.kill(pid, 'SIGKILL');
  const inits: number[] = [];
  for (const r of runs) {
    if (r.pid && r.containerId && processCgroups(r.pid).includes(`berth/${r.containerId}`)) inits.push(r.pid);
  }
  for (const pid of inits) process.kill(pid, 'SIGKILL');
  const all = [...victims, ...inits];
  for (let i = 0; i < 100 && all.some((pid) => existsSync(`/proc/${pid}`) && processName(pid) !== null); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return all.length;
}

/** The checkout: test/e2e/dist/harness.js -> ../../.. */
export const repoRoot = resolve(__dirname, '..', '..', '..');
export const berthCommand = join(repoRoot, 'berth');
/** The docker CLI the tests drive: /usr/local/bin/docker when present, else `docker` on PATH. */
export const dockerCommand = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  /** written to the child's stdin */
  readonly input?: string;
}

export function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      cmd,
      args,
      { env, cwd: repoRoot, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        const killed = error && (error as { killed?: boolean }).killed ? `\n(killed after ${opts.timeoutMs ?? 120_000} ms)` : '';
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) + killed });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`${command} exited ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 4000)}`);
    this.name = 'CommandError';
  }
}

export interface StartOptions {
  /** extra keys merged into the generated berth.json */
  readonly config?: Partial<BerthConfigInput>;
  /** how long `berth up` may wait for /_ping, seconds (default 90) */
  readonly upTimeoutS?: number;
}

export interface RunningBerth {
  readonly dir: string;
  readonly configFile: string;
  readonly config: BerthConfigInput;
  /** path of the API's unix socket */
  readonly socket: string;
  /** the environment `berth` runs with (BERTH_CONFIG set, other BERTH_* overrides removed) */
  readonly env: NodeJS.ProcessEnv;
  /** docker -H unix://<socket> <args>; rejects with CommandError on a non-zero exit */
  docker(args: readonly string[], opts?: RunOptions): Promise<string>;
  /** the same, resolving with the exit code and both streams whatever the outcome */
  dockerResult(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** ./berth <args> with this instance's configuration; rejects on a non-zero exit */
  berth(args: readonly string[], opts?: RunOptions): Promise<string>;
  /** berth down && berth up */
  restart(): Promise<void>;
  /** berth up (after down()) */
  up(): Promise<void>;
  /** berth down: the processes stop, containers keep running (live restore) */
  down(): Promise<void>;
  /** berth down, a reboot as the containers see it (every shim and container process killed), berth up */
  reboot(): Promise<void>;
  /** removes every container (best effort), berth down, drops the database, cleans the namespace, removes the temp dir */
  stop(): Promise<void>;
}

/** The environment for `berth`: ours minus anything that would override the generated file. */
function berthEnv(configFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('BERTH_') && !k.startsWith('BERTH_TEST_') && k !== 'BERTH_BOOTSTRAPPED') continue;
    if (k === 'DOCKER_HOST' || k === 'DOCKER_CONTEXT') continue;
    env[k] = v;
  }
  env.BERTH_CONFIG = configFile;
  // Under `berth test` the tree is already bootstrapped and built; skip doing it again per start.
  if (process.env.BERTH_BOOTSTRAPPED === '1') env.BERTH_NO_BOOTSTRAP = '1';
  return env;
}

export async function startBerth(opts: StartOptions = {}): Promise<RunningBerth> {
  const tmp = createTempDir('berth-e2e-');
  const db = await createTestDatabase('berth_e2e');
  const ns = createTestNamespace('berthe2e');
  const dir = tmp.path;
  const socket = join(dir, 'docker.sock');
  const config: BerthConfigInput = {
    'data-root': join(dir, 'root'),
    'exec-root': join(dir, 'exec'),
    hosts: [`unix://${socket}`],
    postgres: db.url,
    redis: ns.redisUrl,
    namespace: ns.namespace,
    'node-id': `e2e-${randomSuffix()}`,
    // A test run does not change host-wide kernel settings (cgroup-dynmods.int.spec tests that one).
    'cgroup-favor-dynmods': false,
    ...opts.config,
  };
  const configFile = join(dir, 'berth.json');
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const dockerConfig = join(dir, 'docker-config');
  mkdirSync(dockerConfig, { recursive: true });
  const env = berthEnv(configFile);
  const dockerEnv: NodeJS.ProcessEnv = { ...env, DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false' };

  const berth = async (args: readonly string[], o?: RunOptions) => {
    const r = await run(berthCommand, args, env, { timeoutMs: 300_000, ...o });
    if (r.code !== 0) throw new CommandError(`berth ${args.join(' ')}`, r);
    return r.stdout;
  };
  const dockerResult = (args: readonly string[], o?: RunOptions) =>
    run(dockerCommand, ['-H', `unix://${socket}`, ...args], dockerEnv, o);
  const docker = async (args: readonly string[], o?: RunOptions) => {
    const r = await dockerResult(args, o);
    if (r.code !== 0) throw new CommandError(`docker ${args.join(' ')}`, r);
    return r.stdout;
  };
  const up = () => berth(['up', '--timeout', String(opts.upTimeoutS ?? 90)]);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const problems: string[] = [];
    // Containers outlive `berth down` (live restore): remove them first so nothing leaks.
    const ps = await dockerResult(['ps', '-aq'], { timeoutMs: 20_000 });
    const ids = ps.code === 0 ? ps.stdout.split('\n').filter(Boolean) : [];
    if (ids.length) await dockerResult(['rm', '-f', ...ids], { timeoutMs: 60_000 });
    const down = await run(berthCommand, ['down'], env, { timeoutMs: 120_000 });
    if (down.code !== 0) problems.push(`berth down: ${down.stderr.trim()}`);
    for (const [what, fn] of [
      ['drop database', () => db.drop()],
      ['clean namespace', () => ns.cleanup()],
      ['remove network state', async () => removeNamespaceNetworking(ns.namespace)],
    ] as const) {
      try {
        await fn();
      } catch (e) {
        problems.push(`${what}: ${(e as Error).message}`);
      }
    }
    try {
      tmp.remove();
    } catch (e) {
      problems.push(`remove ${dir}: ${(e as Error).message}`);
    }
    if (problems.length) throw new Error(`stopping the e2e Berth:\n${problems.join('\n')}`);
  };

  try {
    await up();
  } catch (e) {
    const logs = await run(berthCommand, ['logs', '-n', '40'], env, { timeoutMs: 20_000 });
    await stop().catch(() => undefined);
    throw new Error(`${(e as Error).message}\n--- berth logs ---\n${logs.stdout}${logs.stderr}`);
  }

  return {
    dir,
    configFile,
    config,
    socket,
    env,
    docker,
    dockerResult,
    berth,
    async restart() {
      await berth(['down']);
      await up();
    },
    async up() {
      await up();
    },
    async down() {
      await berth(['down']);
    },
    async reboot() {
      await berth(['down']);
      await killContainerProcesses(config['exec-root'] as string);
      // the shims' state dirs are on a tmpfs (the executor's, here), which a reboot empties
      unmountStateTmpfs(config['exec-root'] as string);
      rmSync(join(config['exec-root'] as string, 's'), { recursive: true, force: true });
      await up();
    },
    stop,
  };
}
