/**
 * The gateway booted in-process on a unix socket (own database, Redis namespace and data root), driven
 * by the real docker CLI and raw HTTP. Fake containers/volumes services answer over the real Redis RPC.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { loadConfig } from '@berth/config';
import {
  EVENTS_STREAM,
  SystemPatterns,
  VolumePatterns,
  notFound,
  redisKey,
  type ContainersSummary,
  type CreateVolumeRequest,
  type EventEnvelope,
  type VolumeView,
} from '@berth/contracts';
import { createRpcMicroservice } from '@berth/messaging';
import { createTempDir, createTestDatabase, createTestNamespace, waitFor, type TempDir, type TestDatabase, type TestNamespace } from '@berth/testing';
import Redis from 'ioredis';
import { startGateway, type RunningGateway } from './gateway';

const run = promisify(execFile);

@Controller()
class FakeContainers {
  @MessagePattern(SystemPatterns.summary('containers'))
  summary(): ContainersSummary {
    return { total: 3, running: 1, paused: 0, stopped: 2 };
  }
}
@Module({ controllers: [FakeContainers] })
class FakeContainersModule {}

const volumes = new Map<string, VolumeView>();
@Controller()
class FakeVolumes {
  @MessagePattern(VolumePatterns.create)
  create(@Payload() req: CreateVolumeRequest): VolumeView {
    const name = req.name ?? randomUUID().replace(/-/g, '');
    const view: VolumeView = {
      name,
      driver: req.driver ?? 'local',
      mountpoint: `/var/lib/berth/volumes/${name}/_data`,
      labels: req.labels ?? {},
      options: req.driverOpts ?? {},
      scope: 'local',
      createdAt: '2024-01-01T00:00:00Z',
      anonymous: !req.name,
    };
    volumes.set(name, view);
    return view;
  }
  @MessagePattern(VolumePatterns.list)
  list(): VolumeView[] {
    return [...volumes.values()];
  }
  @MessagePattern(VolumePatterns.inspect)
  inspect(@Payload() req: { name: string }): VolumeView {
    const v = volumes.get(req.name);
    if (!v) throw notFound(`get ${req.name}: no such volume`);
    return v;
  }
  @MessagePattern(VolumePatterns.remove)
  remove(@Payload() req: { name: string }): Record<string, never> {
    if (!volumes.delete(req.name)) throw notFound(`get ${req.name}: no such volume`);
    return {};
  }
  @MessagePattern(VolumePatterns.prune)
  prune(): { volumesDeleted: string[]; spaceReclaimed: number } {
    const deleted = [...volumes.values()].filter((v) => v.anonymous).map((v) => v.name);
    for (const n of deleted) volumes.delete(n);
    return { volumesDeleted: deleted, spaceReclaimed: 0 };
  }
}
@Module({ controllers: [FakeVolumes] })
class FakeVolumesModule {}

let tmp: TempDir;
let db: TestDatabase;
let ns: TestNamespace;
let gateway: RunningGateway;
let services: INestMicroservice[] = [];
let redis: Redis;
let socket: string;

const docker = (...args: string[]) =>
  run('docker', ['-H', `unix://${socket}`, ...args], {
    env: { PATH: process.env.PATH, DOCKER_CONFIG: join(tmp.path, 'docker-config') },
    timeout: 30_000,
  });

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
function http(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let position = 0;
async function publish(type: string, data: unknown, timeNano: bigint): Promise<string> {
  const eventId = randomUUID();
  const envelope: EventEnvelope = {
    eventId,
    service: 'volumes',
    streamId: `volume:${(data as { name: string }).name}`,
    version: 1,
    position: String(++position),
    type,
    data,
    schemaVersion: 1,
    actor: null,
    occurredAt: new Date(Number(timeNano / 1_000_000n)).toISOString(),
    occurredAtNano: timeNano.toString(),
  };
  await redis.xadd(redisKey(ns.namespace, EVENTS_STREAM), '*', 'e', JSON.stringify(envelope));
  return eventId;
}
const created = (name: string) => ({ name, driver: 'local', mountpoint: `/v/${name}`, labels: {}, options: {}, anonymous: false });

before(async () => {
  tmp = createTempDir('berth-gateway-');
  db = await createTestDatabase();
  ns = createTestNamespace();
  socket = join(tmp.path, 'run', 'docker.sock');
  const file = join(tmp.path, 'berth.json');
  writeFileSync(
    file,
    JSON.stringify({
      'data-root': join(tmp.path, 'root'),
      hosts: [`unix://${socket}`, 'tcp://127.0.0.1:0'],
      'allow-insecure-tcp': true,
      postgres: db.url,
      redis: ns.redisUrl,
      namespace: ns.namespace,
      'rpc-timeout-ms': 5000,
    }),
  );
  const config = loadConfig({ BERTH_CONFIG: file });
  redis = new Redis(ns.redisUrl);
  gateway = await startGateway(config, { logger: false });
  for (const [module, service] of [
    [FakeContainersModule, 'containers'],
    [FakeVolumesModule, 'volumes'],
  ] as const) {
    const app = await createRpcMicroservice(module, { redisUrl: ns.redisUrl, namespace: ns.namespace, service }, { logger: false });
    await app.listen();
    services.push(app);
  }
});

after(async () => {
  await gateway?.close();
  await Promise.all(services.map((s) => s.close()));
  services = [];
  redis?.disconnect();
  await ns?.cleanup();
  await db?.drop();
  tmp?.remove();
});

test('docker version: Berth engine at API 1.50', async () => {
  const { stdout } = await docker('version');
  assert.match(stdout, /Server: Berth/);
  assert.match(stdout, /API version:\s+1\.50 \(minimum version 1\.24\)/);
  const { stdout: json } = await docker('version', '--format', '{{json .Server}}');
  const server = JSON.parse(json) as Record<string, unknown>;
  assert.equal(server.ApiVersion, '1.50');
  assert.equal(server.MinAPIVersion, '1.24');
  assert.equal(server.Os, 'linux');
  assert.deepEqual(server.Platform, { Name: 'Berth' });
});

test('docker info: real counts, host facts, a warning for a silent service', async () => {
  const { stdout, stderr } = await docker('info');
  assert.match(stdout, /Containers: 3/);
  assert.match(stdout, /Running: 1/);
  assert.match(stdout, /Swarm: inactive/);
  assert.match(stderr, /images service did not answer/);
  assert.doesNotMatch(stderr, /containers service/);
  const { stdout: json } = await docker('info', '--format', '{{json .}}');
  const info = JSON.parse(json) as Record<string, unknown>;
  assert.equal(info.ContainersStopped, 2);
  assert.equal(info.Images, 0);
  assert.equal(info.DockerRootDir, join(tmp.path, 'root'));
  assert.equal(info.OSType, 'linux');
  assert.equal(info.Architecture, 'x86_64');
  assert.match(String(info.CgroupVersion), /^[12]$/);
  assert.equal(info.DefaultRuntime, 'berth');
  assert.equal((info.Swarm as { LocalNodeState: string }).LocalNodeState, 'inactive');
  // the ID survives restarts: it is kept under the data root
  const { stdout: id } = await docker('info', '--format', '{{.ID}}');
  assert.equal(id.trim(), info.ID);
});

test('_ping: GET and HEAD, dockerd headers, also versioned', async () => {
  for (const path of ['/_ping', '/v1.41/_ping']) {
    const get = await http('GET', path);
    assert.equal(get.status, 200);
    assert.equal(get.body, 'OK');
    assert.equal(get.headers['api-version'], '1.50');
    assert.equal(get.headers['ostype'], 'linux');
    assert.equal(get.headers['docker-experimental'], 'false');
    assert.equal(get.headers['builder-version'], '1');
    assert.equal(get.headers['swarm'], 'inactive');
    assert.equal(get.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(get.headers['pragma'], 'no-cache');
    assert.match(String(get.headers['server']), /^Berth\/.+ \(linux\)$/);
  }
  const head = await http('HEAD', '/_ping');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '0');
  assert.equal(head.headers['content-type'], 'text/plain; charset=utf-8');
});

test('listens on every host: the unix socket (0660) and plain TCP when allowed', async () => {
  const { statSync } = await import('node:fs');
  assert.equal(statSync(socket).mode & 0o777, 0o660);
  const tcp = gateway.servers.all().find((s) => s.host.startsWith('tcp://'));
  const address = tcp?.server.address();
  assert.ok(address && typeof address === 'object');
  const { stdout } = await run('docker', ['-H', `tcp://127.0.0.1:${address.port}`, 'version', '--format', '{{.Server.APIVersion}}'], {
    env: { PATH: process.env.PATH, DOCKER_CONFIG: join(tmp.path, 'docker-config') },
  });
  assert.equal(stdout.trim(), '1.50');
});

test('errors: unknown route, version too new, malformed JSON; the gateway keeps answering', async () => {
  const missing = await http('GET', '/v1.50/no/such/route');
  assert.equal(missing.status, 404);
  assert.deepEqual(JSON.parse(missing.body), { message: 'page not found' });
  assert.match(String(missing.headers['content-type']), /application\/json/);

  const tooNew = await http('GET', '/v1.99/version');
  assert.equal(tooNew.status, 400);
  assert.deepEqual(JSON.parse(tooNew.body), { message: 'client version 1.99 is too new. Maximum supported API version is 1.50' });

  const malformed = await http('POST', '/volumes/create', '{"Name": oops', { 'Content-Type': 'application/json' });
  assert.equal(malformed.status, 400);
  assert.match((JSON.parse(malformed.body) as { message: string }).message, /^invalid JSON: invalid character 'o'/);

  const badFilter = await http('GET', '/events?filters=%7Bnope');
  assert.equal(badFilter.status, 400);
  assert.deepEqual(JSON.parse(badFilter.body), { message: 'invalid filter' });

  const ping = await http('GET', '/_ping');
  assert.equal(ping.status, 200);
});

test('docker events: durable history between since and until', async () => {
  const now = BigInt(Date.now()) * 1_000_000n;
  const t1 = now - 20_000_000_000n;
  const t2 = now - 10_000_000_000n;
  await publish('VolumeCreated', created('hist-a'), t1);
  await publish('VolumeRemoved', { name: 'hist-a' }, t2);
  await publish('VolumeCreated', created('too-old'), now - 3_600_000_000_000n);
  const since = (t1 / 1_000_000_000n - 1n).toString();
  const until = (t2 / 1_000_000_000n + 1n).toString();
  const history = () => http('GET', `/events?since=${since}&until=${until}`);
  await waitFor(async () => (await history()).body.split('\n').filter(Boolean).length === 2);

  const { stdout } = await docker('events', '--since', since, '--until', until, '--format', '{{json .}}');
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.deepEqual(
    lines.map((l) => [l.Type, l.Action, (l.Actor as { ID: string }).ID]),
    [
      ['volume', 'create', 'hist-a'],
      ['volume', 'destroy', 'hist-a'],
    ],
  );
  assert.equal(String(lines[0].timeNano), t1.toString().slice(0, String(lines[0].timeNano).length));

  const filtered = await docker('events', '--since', since, '--until', until, '--filter', 'event=destroy', '--format', '{{.Action}}');
  assert.equal(filtered.stdout.trim(), 'destroy');
  const none = await docker('events', '--since', since, '--until', until, '--filter', 'type=container');
  assert.equal(none.stdout.trim(), '');

  // redelivery of the same event is harmless
  const raw = await http('GET', `/events?since=0&until=${until}&filters=${encodeURIComponent('{"volume":{"hist-a":true}}')}`);
  assert.equal(raw.body.trim().split('\n').length, 2);
  assert.equal(raw.headers['content-type'], 'application/json');
});

test('docker events: live events arrive until `until` passes', async () => {
  const sinceSeconds = Math.floor(Date.now() / 1000);
  const untilSeconds = sinceSeconds + 4;
  const child = docker(
    'events',
    '--filter',
    'type=volume',
    '--since',
    String(sinceSeconds),
    '--until',
    String(untilSeconds),
    '--format',
    '{{.Action}} {{.Actor.ID}}',
  );
  await new Promise((r) => setTimeout(r, 1_000));
  await publish('VolumeCreated', created('live-a'), BigInt(Date.now()) * 1_000_000n);
  const { stdout } = await child;
  assert.equal(stdout, 'create live-a\n');
});

test('volumes passthrough: create, ls, inspect, rm, not found', async () => {
  const { stdout: name } = await docker('volume', 'create', '--label', 'team=a', 'data');
  assert.equal(name.trim(), 'data');
  const { stdout: ls } = await docker('volume', 'ls', '--format', '{{.Driver}} {{.Name}}');
  assert.match(ls, /^local data$/m);
  const { stdout: inspect } = await docker('volume', 'inspect', 'data');
  const [volume] = JSON.parse(inspect) as Record<string, unknown>[];
  assert.equal(volume.Name, 'data');
  assert.equal(volume.Scope, 'local');
  assert.deepEqual(volume.Labels, { team: 'a' });
  assert.equal(volume.Mountpoint, '/var/lib/berth/volumes/data/_data');

  const direct = await http('POST', '/v1.50/volumes/create', JSON.stringify({ Name: 'raw' }), { 'Content-Type': 'application/json' });
  assert.equal(direct.status, 201);
  assert.equal((JSON.parse(direct.body) as { Name: string }).Name, 'raw');
  const list = await http('GET', '/volumes');
  assert.equal((JSON.parse(list.body) as { Warnings: unknown }).Warnings, null);

  await docker('volume', 'rm', 'data');
  const del = await http('DELETE', '/volumes/raw?force=1');
  assert.equal(del.status, 204);
  await assert.rejects(docker('volume', 'inspect', 'data'), (e: { stderr: string }) => /no such volume/.test(e.stderr));
  const missing = await http('GET', '/volumes/data');
  assert.equal(missing.status, 404);
  assert.deepEqual(JSON.parse(missing.body), { message: 'get data: no such volume' });
});
