/**
 * The executor host's container jobs end to end (root, real kernel, real Redis): a real executor
 * process (dist/main.js on a temp BERTH_CONFIG) driven through ExecutorQueueClient as a service
 * would, busybox as the image's only layer. Build first: `npx tsc -b executor-native` and
 * `npm run build --workspace executor-native`.
 */
import {
  ContainerObservation,
  containerPaths,
  ErrorCode,
  ExecutorJob,
  OBSERVATIONS_STREAM,
  redisKey,
  type ContainerRuntimeSpec,
  type ExecutorObservation,
} from '@berth/contracts';
import { ExecutorQueueClient } from '@berth/messaging';
import { parseStdcopy, ShimClient } from '../shim-client';
import { createTempDir, createTestNamespace, waitFor, type TempDir } from '@berth/testing';
import Redis from 'ioredis';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== 'true' ? 'needs root' : false;
const mainJs = join(__dirname, '..', 'main.js');
const shimBin = join(__dirname, '..', '..', 'build', 'berth-shim');

const newId = () => randomBytes(32).toString('hex');

function alive(pid: number) {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('executor host: containers (root, real kernel)', { skip }, () => {
  const ns = createTestNamespace();
  let tmp: TempDir;
  let dataRoot: string;
  let layer: string;
  let configFile: string;
  let executor: ChildProcess | undefined;
  let client: ExecutorQueueClient;
  let redis: Redis;
  const ids: string[] = [];

  function startExecutor(config = configFile) {
    const child = spawn(process.execPath, [mainJs], {
      env: { ...process.env, BERTH_CONFIG: config },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        process.stdout.write(d);
        if (out.includes('berth-executor: ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`executor exited ${code}`)));
    });
    executor = child;
    return ready;
  }

  async function killExecutor() {
    const e = executor!;
    e.kill('SIGKILL');
    if (e.exitCode === null && e.signalCode === null) await once(e, 'exit');
  }

  async function observations(subject: string): Promise<ExecutorObservation[]> {
    const entries = await redis.xrange(redisKey(ns.namespace, OBSERVATIONS_STREAM), '-', '+');
    return entries
      .map(([, fields]) => JSON.parse(fields[1]!) as ExecutorObservation)
      .filter((o) => o.subject === subject);
  }

  const observed = async (subject: string, kind: ContainerObservation, timeoutMs = 15_000): Promise<ExecutorObservation> =>
    (await waitFor(async () => (await observations(subject)).find((o) => o.kind === kind), timeoutMs))!;

  function spec(args: string[], extra: Partial<ContainerRuntimeSpec> = {}): ContainerRuntimeSpec {
    return {
      process: { args, env: ['PATH=/bin'], cwd: '/' },
      hostname: 'box',
      mounts: [],
      networkNamespace: { mode: 'none' },
      ...extra,
    };
  }

  async function run(args: string[], extra: Partial<ContainerRuntimeSpec> = {}) {
    const id = newId();
    ids.push(id);
    await client.run(ExecutorJob.ContainerPrepare, { id, layerDirs: [layer] });
    const created = await client.run(ExecutorJob.ContainerCreate, { id, spec: spec(args, extra) });
    const started = await client.run(ExecutorJob.ContainerStart, { id });
    assert.equal(started.pid, created.pid);
    return { id, ...started, shimPid: created.shimPid, paths: containerPaths(dataRoot, join(tmp.path, 'exec'), id) };
  }

  before(async () => {
    assert.ok(isRoot, 'CI=true: these tests must run as root');
    assert.ok(existsSync(shimBin), `build first: npm run build --workspace executor-native (${shimBin})`);
    tmp = createTempDir('bx-');
    dataRoot = join(tmp.path, 'r');
    layer = join(tmp.path, 'layer');
    mkdirSync(join(layer, 'bin'), { recursive: true });
    mkdirSync(join(layer, 'etc'));
    mkdirSync(join(layer, 'tmp'));
    copyFileSync('/bin/busybox', join(layer, 'bin', 'busybox'));
    execFileSync('chroot', [layer, '/bin/busybox', '--install', '-s', '/bin']);
    writeFileSync(join(layer, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
    writeFileSync(join(layer, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    configFile = join(tmp.path, 'berth.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        'data-root': dataRoot,
        // its own exec root (the stream socket), never the host's /run/berth
        'exec-root': join(tmp.path, 'exec'),
        redis: ns.redisUrl,
        namespace: ns.namespace,
        'node-id': 'ctest',
        'log-level': 'warn',
        // a test run leaves the host-wide kernel switch alone (cgroup-dynmods.int.spec tests it)
        'cgroup-favor-dynmods': false,
      }),
    );
    redis = new Redis(ns.redisUrl);
    client = new ExecutorQueueClient({ redisUrl: ns.redisUrl, namespace: ns.namespace, nodeId: 'ctest', defaultTimeoutMs: 30_000 });
    await startExecutor();
  });

  after(async () => {
    // remove through the executor first (the real path), then make sure nothing is left
    for (const id of ids) await client.run(ExecutorJob.ContainerRemove, { id }).catch(() => undefined);
    if (executor && executor.exitCode === null && executor.signalCode === null) {
      executor.kill('SIGTERM');
      await once(executor, 'exit');
    }
    await client?.close();
    redis?.disconnect();
    // any shim of ours still running is a leak: kill it, then fail below
    const leaked: number[] = [];
    for (const n of readdirSync('/proc')) {
      if (!/^\d+$/.test(n)) continue;
      try {
        const cmd = readFileSync(`/proc/${n}/cmdline`, 'utf8');
        if (cmd.includes('berth-shim') && tmp && cmd.includes(tmp.path)) {
          leaked.push(Number(n));
          process.kill(Number(n), 'SIGKILL');
        }
      } catch {
        /* gone */
      }
    }
    for (const id of ids) {
      try {
        execFileSync(join(__dirname, '..', '..', 'build', 'berth-init'), ['cgroup', 'remove', `berth/${id}`]);
      } catch {
        /* none */
      }
    }
    await ns.cleanup();
    tmp?.remove();
    assert.deepEqual(leaked, [], 'shims left running');
  });

  it('runs a container: both streams in the json-file log, exit code observed, started observed', async () => {
    const c = await run(['sh', '-c', 'echo hi; echo err >&2; exit 3']);
    const exited = await observed(c.id, ContainerObservation.Exited);
    assert.equal(exited.data.exitCode, 3);
    assert.equal(exited.observationId, `${c.id}:exited:${c.startedAt}`);
    assert.equal(exited.nodeId, 'ctest');
    const started = (await observations(c.id)).find((o) => o.kind === ContainerObservation.Started);
    assert.equal(started?.data.pid, c.pid);
    const log = readFileSync(c.paths.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      log.map((l) => [l.stream, l.log]),
      [
        ['stdout', 'hi\n'],
        ['stderr', 'err\n'],
      ],
    );
    const st = await client.run(ExecutorJob.ContainerState, { id: c.id });
    assert.equal(st.status, 'exited');
    assert.equal(st.exitCode, 3);
    // after the exit is reported the shim is shut down and the cgroup is gone
    await waitFor(() => !alive(c.shimPid));
    await waitFor(() => !existsSync(`/sys/fs/cgroup/memory/berth/${c.id}`));
  });

  it('rotates the log at max-size, keeping max-file files', async () => {
    const c = await run(['sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done'], {
      log: { maxSize: 4096, maxFile: 3 },
    });
    await observed(c.id, ContainerObservation.Exited);
    assert.ok(existsSync(`${c.paths.log}.1`));
    assert.ok(existsSync(`${c.paths.log}.2`));
    assert.ok(!existsSync(`${c.paths.log}.3`));
    const last = readFileSync(c.paths.log, 'utf8').trim().split('\n').pop()!;
    assert.equal(JSON.parse(last).log, 'line-299-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n');
  });

  it('refuses a missing command with Docker wording and reports exit 127', async () => {
    const id = newId();
    ids.push(id);
    await client.run(ExecutorJob.ContainerPrepare, { id, layerDirs: [layer] });
    await client.run(ExecutorJob.ContainerCreate, { id, spec: spec(['nosuch']) });
    await assert.rejects(client.run(ExecutorJob.ContainerStart, { id }), (e: { code: string; message: string }) => {
      assert.equal(e.code, ErrorCode.InvalidArgument);
      assert.match(e.message, /exec: "nosuch": executable file not found in \$PATH/);
      return true;
    });
    const exited = await observed(id, ContainerObservation.Exited);
    assert.equal(exited.data.exitCode, 127);
  });

  it('attach.sock is ready after create: a client attached before start misses no output', async () => {
    const id = newId();
    ids.push(id);
    await client.run(ExecutorJob.ContainerPrepare, { id, layerDirs: [layer] });
    await client.run(ExecutorJob.ContainerCreate, {
      id,
      spec: spec(['sh', '-c', 'read x; echo "got $x"; echo bye >&2'], { process: { args: ['sh', '-c', 'read x; echo "got $x"; echo bye >&2'], env: ['PATH=/bin'], openStdin: true, stdinOnce: true } }),
    });
    const sock = await new ShimClient(containerPaths(dataRoot, join(tmp.path, 'exec'), id).stateDir).attach({ stdin: true });
    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    const ended = once(sock, 'end');
    sock.resume();
    await client.run(ExecutorJob.ContainerStart, { id });
    sock.end('hello\n');
    await ended;
    const frames = parseStdcopy(Buffer.concat(chunks)).frames.map((f) => [f.stream, f.data.toString()]);
    assert.deepEqual(frames, [
      [1, 'got hello\n'],
      [2, 'bye\n'],
    ]);
    assert.equal((await observed(id, ContainerObservation.Exited)).data.exitCode, 0);
  });

  it('reports an OOM kill: container.oom then exited with oomKilled', async () => {
    const c = await run(['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived'], {
      resources: { memory: 16 * 1024 * 1024, memorySwap: 16 * 1024 * 1024 },
    });
    const exited = await observed(c.id, ContainerObservation.Exited, 30_000);
    assert.equal(exited.data.oomKilled, true, JSON.stringify(exited.data));
    assert.ok((await observations(c.id)).some((o) => o.kind === ContainerObservation.Oom));
  });

  it('stop: SIGTERM ignored, SIGKILL after the timeout', async () => {
    const c = await run(['sh', '-c', "trap '' TERM; while true; do sleep 0.1; done"]);
    const t0 = Date.now();
    const r = await client.run(ExecutorJob.ContainerStop, { id: c.id, timeoutSeconds: 1 });
    const took = Date.now() - t0;
    assert.equal(r.exitCode, 137);
    assert.equal(r.killed, true);
    assert.ok(took >= 1000 && took < 5000, `took ${took} ms`);
    assert.equal((await observed(c.id, ContainerObservation.Exited)).data.exitCode, 137);
  });

  it('stop: a process that exits on SIGTERM is not killed; signal with any signal', async () => {
    const c = await run(['sh', '-c', "trap 'exit 42' USR1; trap 'exit 7' TERM; while true; do sleep 0.1; done"]);
    await new Promise((r) => setTimeout(r, 200));
    const r = await client.run(ExecutorJob.ContainerStop, { id: c.id, timeoutSeconds: 10 });
    assert.deepEqual([r.exitCode, r.killed], [7, false]);
    const d = await run(['sh', '-c', "trap 'exit 42' USR1; while true; do sleep 0.1; done"]);
    await new Promise((r) => setTimeout(r, 200));
    await client.run(ExecutorJob.ContainerSignal, { id: d.id, signal: 'SIGUSR1' });
    assert.equal((await observed(d.id, ContainerObservation.Exited)).data.exitCode, 42);
    await assert.rejects(client.run(ExecutorJob.ContainerSignal, { id: d.id, signal: 'KILL' }), { code: ErrorCode.Conflict });
  });

  it('pause/unpause freezes the cgroup; update memory at runtime; stats and top', async () => {
    const c = await run(['sh', '-c', "trap 'exit 0' TERM; while true; do echo tick; sleep 0.05; done"], { resources: { memory: 64 * 1024 * 1024, pidsLimit: 50 } });
    const memLimit = `/sys/fs/cgroup/memory/berth/${c.id}/memory.limit_in_bytes`;
    assert.equal(readFileSync(memLimit, 'utf8').trim(), String(64 * 1024 * 1024));

    await client.run(ExecutorJob.ContainerPause, { id: c.id });
    assert.equal((await client.run(ExecutorJob.ContainerState, { id: c.id })).status, 'paused');
    assert.equal(readFileSync(`/sys/fs/cgroup/freezer/berth/${c.id}/freezer.state`, 'utf8').trim(), 'FROZEN');
    const size = readFileSync(c.paths.log).length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(readFileSync(c.paths.log).length, size, 'no output while frozen');
    await client.run(ExecutorJob.ContainerUnpause, { id: c.id });
    assert.equal((await client.run(ExecutorJob.ContainerState, { id: c.id })).status, 'running');
    await waitFor(() => readFileSync(c.paths.log).length > size);

    await client.run(ExecutorJob.ContainerUpdate, { id: c.id, resources: { memory: 128 * 1024 * 1024, memorySwap: -1 } });
    assert.equal(readFileSync(memLimit, 'utf8').trim(), String(128 * 1024 * 1024));

    const s = await client.run(ExecutorJob.ContainerStats, { id: c.id });
    assert.ok(s.cpu_stats.cpu_usage.total_usage > 0);
    assert.ok(s.cpu_stats.system_cpu_usage > 0);
    assert.ok(s.cpu_stats.online_cpus >= 1);
    assert.ok(s.memory_stats.usage > 0);
    assert.equal(s.memory_stats.limit, 128 * 1024 * 1024);
    assert.ok(s.pids_stats.current >= 1);
    assert.equal(s.pids_stats.limit, 50);
    assert.equal(typeof s.networks, 'object');
    assert.ok('io_service_bytes_recursive' in s.blkio_stats);

    const top = await client.run(ExecutorJob.ContainerTop, { id: c.id });
    assert.ok(top.Titles.includes('PID') && top.Titles.includes('CMD'), top.Titles.join(','));
    const pidCol = top.Titles.indexOf('PID');
    assert.ok(top.Processes.some((p) => Number(p[pidCol]) === c.pid), JSON.stringify(top.Processes));
    assert.ok(top.Processes.every((p) => p.length === top.Titles.length));
    const aux = await client.run(ExecutorJob.ContainerTop, { id: c.id, psArgs: 'aux' });
    assert.ok(aux.Titles.includes('%CPU'));

    const r = await client.run(ExecutorJob.ContainerStop, { id: c.id, timeoutSeconds: 5 });
    assert.deepEqual([r.exitCode, r.killed], [0, false]);
  });

  it('exec: joins the container, exit code observed', async () => {
    const c = await run(['sh', '-c', 'echo ok > /tmp/marker; hostname > /tmp/h; sleep 30']);
    await waitFor(() => existsSync(`/proc/${c.pid}`));
    const execId = newId();
    const x = await client.run(ExecutorJob.ExecCreate, {
      containerId: c.id,
      execId,
      process: { args: ['sh', '-c', 'test "$(cat /tmp/marker)" = ok && test "$(hostname)" = box && test "$FOO" = bar && exit 5'], env: ['PATH=/bin', 'FOO=bar'] },
    });
    assert.ok(x.pid > 0);
    await client.run(ExecutorJob.ExecStart, { containerId: c.id, execId });
    const done = (await waitFor(async () =>
      (await observations(c.id)).find((o) => o.kind === ContainerObservation.ExecExited && o.data.execId === execId),
    ))!;
    assert.equal(done.data.exitCode, 5);
    assert.equal((await client.run(ExecutorJob.ExecState, { containerId: c.id, execId })).exitCode, 5);
    await client.run(ExecutorJob.ContainerStop, { id: c.id, timeoutSeconds: 0 });
  });

  it('survives kill -9 of the executor: containers keep running, exits during and after the outage are reported', async () => {
    const long = await run(['sleep', '5']);
    const short = await run(['sh', '-c', 'sleep 1; exit 9']);
    await killExecutor();
    assert.ok(alive(long.pid), 'container survives the executor');
    assert.ok(alive(long.shimPid));
    // exits while the executor is down
    await waitFor(() => !alive(short.pid), 5000);
    // an orphan cgroup from some crashed run, old enough to be collected at start
    const orphan = newId();
    for (const h of ['memory', 'pids']) {
      mkdirSync(`/sys/fs/cgroup/${h}/berth/${orphan}`, { recursive: true });
      utimesSync(`/sys/fs/cgroup/${h}/berth/${orphan}`, new Date(2020, 0, 1), new Date(2020, 0, 1));
    }
    await startExecutor();
    assert.ok(alive(long.pid), 'still running after the restart');
    const shortExit = await observed(short.id, ContainerObservation.Exited);
    assert.equal(shortExit.data.exitCode, 9);
    assert.equal((await client.run(ExecutorJob.ContainerState, { id: long.id })).status, 'running');
    const longExit = await observed(long.id, ContainerObservation.Exited, 15_000);
    assert.equal(longExit.data.exitCode, 0);
    assert.equal((await observations(long.id)).filter((o) => o.kind === ContainerObservation.Exited).length, 1);
    // reconcile at start removed the orphan cgroup and said so
    assert.ok(!existsSync(`/sys/fs/cgroup/memory/berth/${orphan}`));
    assert.ok(!existsSync(`/sys/fs/cgroup/pids/berth/${orphan}`));
    const o = await observed(orphan, ContainerObservation.OrphanRemoved);
    assert.equal(o.data.what, 'cgroup');
  });

  it('remove of a running container leaves nothing in /proc/mounts, the cgroup tree or the data root', async () => {
    const vol = join(tmp.path, 'vol');
    mkdirSync(vol, { recursive: true });
    const c = await run(['sleep', '60'], {
      mounts: [
        { type: 'volume', source: vol, destination: '/data' },
        { type: 'tmpfs', destination: '/scratch' },
      ],
    });
    const execId = newId();
    await client.run(ExecutorJob.ExecCreate, { containerId: c.id, execId, process: { args: ['sleep', '60'], env: ['PATH=/bin'] } });
    await client.run(ExecutorJob.ExecStart, { containerId: c.id, execId });
    assert.ok(existsSync(c.paths.attachSocket));
    assert.equal((await client.run(ExecutorJob.ContainerRemove, { id: c.id })).removed, true);
    assert.ok(!alive(c.pid));
    assert.ok(!alive(c.shimPid));
    const mounts = readFileSync('/proc/mounts', 'utf8');
    assert.ok(!mounts.includes(c.id), 'no mount names the container');
    assert.ok(!mounts.includes(dataRoot), 'no mount under the data root');
    for (const h of readdirSync('/sys/fs/cgroup')) assert.ok(!existsSync(`/sys/fs/cgroup/${h}/berth/${c.id}`), `cgroup left in ${h}`);
    assert.ok(!existsSync(c.paths.dir));
    assert.ok(!existsSync(c.paths.stateDir));
    const kinds = (await observations(c.id)).map((o) => o.kind);
    assert.ok(kinds.includes(ContainerObservation.Exited), 'the kill is reported before removal');
    assert.equal((await client.run(ExecutorJob.ContainerState, { id: c.id })).status, 'absent');
  });
  it('a container whose shim kept its state under the data root (before the exec root held it) is still handled', async () => {
    // An executor of the old layout: its exec root is the data root, so state dirs are <data-root>/s/<id12>.
    const legacyConfig = join(tmp.path, 'berth-legacy.json');
    writeFileSync(legacyConfig, readFileSync(configFile, 'utf8').replace(JSON.stringify(join(tmp.path, 'exec')), JSON.stringify(dataRoot)));
    await killExecutor();
    await startExecutor(legacyConfig);
    const id = newId();
    ids.push(id);
    await client.run(ExecutorJob.ContainerPrepare, { id, layerDirs: [layer] });
    const created = await client.run(ExecutorJob.ContainerCreate, { id, spec: spec(['sleep', '60']) });
    await client.run(ExecutorJob.ContainerStart, { id });
    const legacyDir = containerPaths(dataRoot, dataRoot, id).stateDir;
    assert.ok(existsSync(join(legacyDir, 'control.sock')));
    // the upgrade: the executor now keeps state dirs under the exec root
    await killExecutor();
    await startExecutor();
    assert.equal((await client.run(ExecutorJob.ContainerState, { id })).status, 'running');
    assert.equal((await client.run(ExecutorJob.ContainerRemove, { id })).removed, true);
    assert.ok(!alive(created.pid));
    assert.ok(!existsSync(legacyDir), 'the legacy state dir goes with the container');
    assert.ok(!existsSync(containerPaths(dataRoot, join(tmp.path, 'exec'), id).stateDir));
  });
});
