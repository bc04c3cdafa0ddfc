import 'reflect-metadata';
import {
  containerPaths,
  ContainerPatterns,
  type ContainerView,
  type CreateContainerReply,
  type CreateContainerRequest,
  type DomainError,
  ErrorCode,
  type ResolvedImageView,
  type WaitContainerReply,
} from '@berth/contracts';
import { RedisRpcClient } from '@berth/messaging';
import { rebuild } from '@berth/service-kit';
import { startTestNode, type TestNode } from '@berth/service-kit/dist/testing';
import { waitFor } from '@berth/testing';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { after, before, describe, it } from 'node:test';
import { ContainersService } from './container/containers.service';
import { RuntimeAdapter } from './container/runtime.adapter';
import { containersService } from './definition';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });

/** An unpacked busybox layer (what images.resolve would point at), built from the host's static busybox. */
function busyboxLayer(dir: string): string {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync);
  if (!busybox) throw new Error('busybox is required on the host');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  for (const applet of sh(busybox, ['--list']).split('\n').map((s) => s.trim())) {
    if (applet && applet !== 'busybox' && !applet.includes('/')) symlinkSync('busybox', join(dir, 'bin', applet));
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\n');
  return dir;
}

/**
 * The containers service in-process, on the real executor and the real network service (both as
 * their own processes, as `berth up` runs them), Postgres and Redis.
 */
describe('containers service (real Postgres, Redis, executor, network service)', { timeout: 300_000 }, () => {
  const second = randomInt(100, 250);
  let node: TestNode;
  let rpc: RedisRpcClient;
  let image: ResolvedImageView;
  const created: string[] = [];

  const create = async (cmd: string[], extra: Partial<CreateContainerRequest> = {}, hostConfig: CreateContainerRequest['hostConfig'] = {}) => {
    const reply = await rpc.request<CreateContainerReply>(
      ContainerPatterns.create,
      { config: { Image: 'busybox', Cmd: cmd }, hostConfig: { NetworkMode: 'none', ...hostConfig }, image, ...extra } satisfies CreateContainerRequest,
      { timeoutMs: 60_000 },
    );
    created.push(reply.id);
    return reply.id;
  };
  const inspect = (id: string) => rpc.request<ContainerView>(ContainerPatterns.inspect, { id });
  const waitExit = (id: string) =>
    rpc.request<WaitContainerReply>(ContainerPatterns.wait, { id, condition: 'not-running' }, { timeoutMs: 60_000 });

  before(async () => {
    node = await startTestNode(containersService, {
      // a pool of our own: the namespace's test bridge never meets the real ones
      config: { 'default-address-pools': [{ base: `10.${second}.0.0/16`, size: 24 }] },
      alsoRun: ['services/network/dist/main.js'],
    });
    ({ rpc } = node);
    image = {
      id: `sha256:${'0'.repeat(64)}`,
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
      layerDirs: [busyboxLayer(join(node.dir.path, 'layer'))],
      repoTags: ['busybox:latest'],
      os: 'linux',
      architecture: 'amd64',
    };
  });

  after(async () => {
    for (const id of created) await rpc?.request(ContainerPatterns.remove, { id, force: true }, { timeoutMs: 60_000 }).catch(() => undefined);
    const stateDirs = node && join(node.dir.path, 'exec', 's');
    const leftovers = stateDirs && existsSync(stateDirs) ? readdirSync(stateDirs) : [];
    await node?.stop();
    assert.deepEqual(leftovers, [], 'no shim state dir is left after removal');
  });

  it('create → start → the exit is observed and recorded', async () => {
    const id = await create(['sh', '-c', 'echo hi; exit 3']);
    assert.equal((await inspect(id)).state.status, 'created');
    await rpc.request(ContainerPatterns.start, { id }, { timeoutMs: 60_000 });
    const reply = await waitExit(id);
    assert.equal(reply.statusCode, 3);
    const v = await inspect(id);
    assert.equal(v.state.status, 'exited');
    assert.equal(v.state.exitCode, 3);
    assert.equal(v.exitCount, 1);
    assert.ok(v.state.finishedAt > v.state.startedAt);
    // a second start is a new run of the same container
    await rpc.request(ContainerPatterns.start, { id }, { timeoutMs: 60_000 });
    await waitFor(async () => ((await inspect(id)).exitCount === 2 ? true : null), 30_000);
  });

  it('--rm: the removal is recorded first, the runtime goes after it; a runtime left behind is swept at boot', async () => {
    const paths = (id: string) => containerPaths(node.config['data-root'], node.config['exec-root'], id);
    // create prepares the rootfs in the same executor job as the shim's spawn
    const id = await create(['true'], {}, { AutoRemove: true });
    await waitFor(async () => (existsSync(join(paths(id).dir, 'layers.json')) ? true : null), 30_000);
    await rpc.request(ContainerPatterns.start, { id }, { timeoutMs: 60_000 });
    const removed = await rpc.request<WaitContainerReply>(ContainerPatterns.wait, { id, condition: 'removed' }, { timeoutMs: 60_000 });
    assert.equal(removed.statusCode, 0);
    await assert.rejects(inspect(id), (e: DomainError) => e.code === ErrorCode.NotFound);
    await waitFor(async () => (!existsSync(paths(id).dir) && !existsSync(paths(id).stateDir) ? true : null), 30_000);
    const cgroups = readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h, 'berth', id));
    await waitFor(async () => (cgroups.every((d) => !existsSync(d)) ? true : null), 30_000);

    // A removed container whose runtime stayed (its background removal failed, or a crash): the sweep
    // at boot removes it once nothing touched it for a minute, and leaves a younger one alone.
    const runtime = node.service.app.get(RuntimeAdapter);
    const [stale, young] = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')];
    for (const x of [stale, young]) await runtime.prepare(x, image.layerDirs);
    const old = new Date(Date.now() - 120_000);
    utimesSync(paths(stale).dir, old, old);
    assert.deepEqual(await node.service.app.get(ContainersService).sweepRuntimes(), [stale]);
    await waitFor(async () => (!existsSync(paths(stale).dir) ? true : null), 30_000);
    assert.ok(existsSync(paths(young).dir), 'a runtime younger than a minute stays');
    await runtime.remove(young);
  });

  it('--network none: lo only, up', async () => {
    const id = await create(['sh', '-c', 'ip -o link | cut -d: -f2 | tr -d " " | tr "\\n" ,; ip -o link show lo | grep -q UP']);
    await rpc.request(ContainerPatterns.start, { id }, { timeoutMs: 60_000 });
    assert.equal((await waitExit(id)).statusCode, 0, 'lo is up');
  });

  it('stop (grace period, then SIGKILL) and kill', async () => {
    const id = await create(['sleep', '300']);
    await rpc.request(ContainerPatterns.start, { id }, { timeoutMs: 60_000 });
    const running = await inspect(id);
    assert.equal(running.state.status, 'running');
    assert.ok(running.state.pid > 0);
    const t0 = Date.now();
    // sleep as PID 1 has no TERM handler: the kernel ignores TERM, KILL follows the 1 s grace period
    await rpc.request(ContainerPatterns.stop, { id, t: 1 }, { timeoutMs: 60_000 });
    assert.ok(Date.now() - t0 >= 900, 'waited for the grace period');
    let v = await inspect(id);
    assert.equal(v.state.status, 'exited');
    assert.equal(v.state.exitCode, 137);
    assert.equal(v.stoppedByUser, true);
    await rpc.request(ContainerPatterns.start, { id }, { timeoutMs: 60_000 });
    await rpc.request(ContainerPatterns.kill, { id, signal: 'SIGKILL' });
    assert.equal((await waitExit(id)).statusCode, 137);
    v = await inspect(id);
    assert.equal(v.state.status, 'exited');
    assert.equal(v.restartCount, 0);
    await assert.rejects(rpc.request(ContainerPatterns.kill, { id }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.Conflict);
      assert.match(e.message, /is not running/);
      return true;
    });
  });

  it('restart policy on-failure:2 restarts exactly twice', async () => {
    const id = await create(['sh', '-c', 'exit 1'], {}, { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } });
    await rpc.request(ContainerPatterns.start, { id }, { timeoutMs: 60_000 });
    const done = await waitFor(
      async () => {
        const v = await inspect(id);
        return v.state.status === 'exited' && v.exitCount === 3 ? v : null;
      },
      30_000,
      100,
    );
    assert.equal(done!.restartCount, 2);
    assert.equal(done!.state.exitCode, 1);
    await new Promise((r) => setTimeout(r, 1500));
    const later = await inspect(id);
    assert.equal(later.state.status, 'exited', 'no third restart');
    assert.equal(later.restartCount, 2);
    assert.equal(later.exitCount, 3);
  });

  it('concurrent creates with one name: one wins, the others are 409s', async () => {
    const name = `same-${randomInt(1e9)}`;
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () =>
        rpc.request<CreateContainerReply>(
          ContainerPatterns.create,
          { name, config: { Image: 'busybox', Cmd: ['true'] }, hostConfig: { NetworkMode: 'none' }, image } satisfies CreateContainerRequest,
          { timeoutMs: 60_000 },
        ),
      ),
    );
    const won = results.filter((r): r is PromiseFulfilledResult<CreateContainerReply> => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const w of won) created.push(w.value.id);
    assert.equal(won.length, 1, JSON.stringify(lost.map((l) => (l.reason as Error).message)));
    for (const l of lost) {
      assert.equal((l.reason as DomainError).code, ErrorCode.Conflict);
      assert.match((l.reason as Error).message, new RegExp(`The container name "/${name}" is already in use`));
    }
    assert.equal((await inspect(name)).id, won[0]!.value.id);
    const all = await rpc.request<ContainerView[]>(ContainerPatterns.list, { all: true, filters: { name: [name] } });
    assert.equal(all.length, 1);
  });

  it('a rebuilt projection equals the live one', async () => {
    const pg = new Client({ connectionString: node.db.url });
    await pg.connect();
    try {
      const rows = async () =>
        (await pg.query<{ id: string; state: unknown; version: number }>('SELECT id, state, version FROM containers.container_view ORDER BY id')).rows;
      const live = await rows();
      assert.ok(live.length >= 5);
      const views = await rpc.request<ContainerView[]>(ContainerPatterns.list, { all: true });
      const summary = (id: string, name: string, status: string, exits: number, restarts: number) => `${id} ${name} ${status} ${exits} ${restarts}`;
      type Row = { name: string; status: string; exitCount: number; restartCount: number };
      assert.deepEqual(
        views.map((v) => summary(v.id, v.name, v.state.status, v.exitCount, v.restartCount)).sort(),
        live.map((r) => { const s = r.state as Row; return summary(r.id, s.name, s.status, s.exitCount, s.restartCount); }).sort(),
        'the projection holds what the service serves',
      );
      const result = await rebuild(containersService, node.config);
      assert.ok(result.events > live.length);
      assert.deepEqual(await rows(), live);
    } finally {
      await pg.end();
    }
  });
});
