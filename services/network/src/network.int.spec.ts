import 'reflect-metadata';
import {
  type ConnectContainerReply,
  type ContainerEndpointsReply,
  defaultBridgeName,
  type DomainError,
  ErrorCode,
  NetworkPatterns,
  networkNftTable,
  type NetworkView,
  type RecordLeasesRequest,
} from '@berth/contracts';
import { RedisRpcClient } from '@berth/messaging';
import { rebuild } from '@berth/service-kit';
import { startTestNode, type TestNode } from '@berth/service-kit/dist/testing';
import { createTestNamespace, waitFor } from '@berth/testing';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Client } from 'pg';
import { after, before, describe, it } from 'node:test';
import { networkService } from './definition';

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
const trySh = (cmd: string, args: string[]) => {
  try {
    return sh(cmd, args);
  } catch {
    return null;
  }
};
const linkExists = (name: string) => trySh('ip', ['link', 'show', 'dev', name]) !== null;
const inNetns = (pid: number, args: string[]) => sh('nsenter', [`--net=/proc/${pid}/ns/net`, '--', ...args]);

/** One TCP exchange with a bounded timeout: the server's greeting, or an error code. */
function fetchGreeting(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    let data = '';
    s.setTimeout(3000, () => {
      s.destroy();
      resolve('timeout');
    });
    s.on('data', (b) => (data += b));
    s.on('end', () => resolve(data.trim()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
  });
}

/** A network namespace held by a sleeping process (the "container"), killed at cleanup. */
function startNetns(): ChildProcess {
  return spawn('unshare', ['-n', 'sleep', '300'], { stdio: 'ignore' });
}

/** A TCP server inside the netns answering `hello <port>`. */
async function startServerIn(pid: number, ports: number[]): Promise<ChildProcess> {
  const code = `const net=require('net');let n=0;for(const p of ${JSON.stringify(ports)}){net.createServer(s=>s.end('hello '+p+'\\n')).listen(p,'0.0.0.0',()=>{if(++n===${ports.length})console.log('up')})}`;
  const child = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, '--', process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  return child;
}

describe('network service (real Postgres, Redis, executor host, kernel)', () => {
  const ns = createTestNamespace();
  const table = networkNftTable(ns.namespace);
  const defaultBridge = defaultBridgeName(ns.namespace);
  // A pool of our own, so the real berth0 (172.17/16) is never involved; its first subnet collides
  // with a host route when the machine has one (then the bridge must take the next free subnet).
  const hostRoute = (JSON.parse(sh('ip', ['-4', '-j', 'route', 'show'])) as { dst: string }[])
    .map((r) => r.dst)
    .find((d) => /^\d+\.\d+\.\d+\.\d+\/(1[6-9]|2[0-4])$/.test(d));
  const second = randomInt(100, 250);
  const pools = [
    ...(hostRoute ? [{ base: hostRoute, size: Number(hostRoute.split('/')[1]) }] : []),
    { base: `10.${second}.0.0/16`, size: 24 },
  ];
  const bridges = new Set<string>([defaultBridge]);
  const children: ChildProcess[] = [];
  let node: TestNode;
  let rpc: RedisRpcClient;

  before(async () => {
    node = await startTestNode(networkService, { namespace: ns, config: { 'default-address-pools': pools } });
    ({ rpc } = node);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await node?.stop();
    for (const b of bridges) if (linkExists(b)) trySh('ip', ['link', 'del', b]);
  });

  it('creates bridge, host and none at start; the bridge avoids subnets the host already routes', async () => {
    const list = await rpc.request<NetworkView[]>(NetworkPatterns.list, {});
    assert.deepEqual(list.map((n) => n.name).sort(), ['bridge', 'host', 'none']);
    const bridge = await rpc.request<NetworkView>(NetworkPatterns.inspect, { network: 'bridge' });
    assert.equal(bridge.bridge, defaultBridge);
    assert.notEqual(defaultBridge, 'berth0');
    assert.equal(bridge.ipam[0]!.subnet, `10.${second}.0.0/24`, `first pool ${hostRoute ?? '(none)'} is routed by the host`);
    assert.equal(bridge.ipam[0]!.gateway, `10.${second}.0.1`);
    assert.match(sh('ip', ['-4', '-o', 'addr', 'show', 'dev', defaultBridge]), new RegExp(` 10\\.${second}\\.0\\.1/24 `));
    await assert.rejects(rpc.request(NetworkPatterns.remove, { network: 'bridge' }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.Forbidden);
      assert.equal(e.message, 'bridge is a pre-defined network and cannot be removed');
      return true;
    });
  });

  it('creates a user network with its own bridge; refuses a duplicate name; filters', async () => {
    const { id } = await rpc.request<{ id: string }>(NetworkPatterns.create, { name: 'tnet', labels: { team: 'a' } });
    assert.match(id, /^[0-9a-f]{64}$/);
    const n = await rpc.request<NetworkView>(NetworkPatterns.inspect, { network: id.slice(0, 12) });
    bridges.add(n.bridge);
    assert.equal(n.name, 'tnet');
    assert.equal(n.ipam[0]!.subnet, `10.${second}.1.0/24`);
    assert.ok(linkExists(n.bridge), `bridge ${n.bridge} exists`);
    assert.match(sh('ip', ['-4', '-o', 'addr', 'show', 'dev', n.bridge]), new RegExp(` 10\\.${second}\\.1\\.1/24 `));
    await assert.rejects(rpc.request(NetworkPatterns.create, { name: 'tnet' }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.Conflict);
      assert.equal(e.message, 'network with name tnet already exists');
      return true;
    });
    const byLabel = await rpc.request<NetworkView[]>(NetworkPatterns.list, { filters: { label: ['team=a'] } });
    assert.deepEqual(byLabel.map((x) => x.name), ['tnet']);
    const custom = await rpc.request<NetworkView[]>(NetworkPatterns.list, { filters: { type: ['custom'] } });
    assert.deepEqual(custom.map((x) => x.name), ['tnet']);
    const builtin = await rpc.request<NetworkView[]>(NetworkPatterns.list, { filters: { type: ['builtin'], driver: ['bridge'] } });
    assert.deepEqual(builtin.map((x) => x.name), ['bridge']);
  });

  it('attaches a netns: veth inside with the IP, gateway reachable, published ports reach a server inside, disconnect cleans up', async () => {
    const holder = startNetns();
    children.push(holder);
    const pid = holder.pid!;
    await waitFor(() => (sh('readlink', [`/proc/${pid}/ns/net`]) !== sh('readlink', ['/proc/self/ns/net']) ? true : null));
    const containerId = randomBytes(32).toString('hex');

    const { endpoint } = await rpc.request<ConnectContainerReply>(NetworkPatterns.connectContainer, {
      containerId,
      containerName: 'web',
      network: 'tnet',
      aliases: ['web'],
      portBindings: { '8080/tcp': [{ HostIp: '', HostPort: '0' }], '8081/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      exposedPorts: { '8080/tcp': {}, '8081/tcp': {} },
    });
    assert.equal(endpoint.ip, `10.${second}.1.2`);
    assert.equal(endpoint.ifname, 'eth0');
    assert.equal(endpoint.mac, `02:42:0a:${second.toString(16).padStart(2, '0')}:01:02`);
    assert.equal(endpoint.ports.length, 2);
    const anyPort = endpoint.ports.find((p) => p.containerPort === 8080)!;
    const localPort = endpoint.ports.find((p) => p.containerPort === 8081)!;
    assert.ok(anyPort.hostPort > 0 && localPort.hostPort > 0, 'HostPort 0 / "" picked a port');
    assert.equal(localPort.hostIp, '127.0.0.1');
    const again = await rpc.request<ConnectContainerReply>(NetworkPatterns.connectContainer, { containerId, network: 'tnet', publish: false });
    assert.equal(again.endpoint.endpointId, endpoint.endpointId, 'connect-container is idempotent');

    // the API's connect for a running container attaches at once (second network → eth1)
    await rpc.request(NetworkPatterns.connect, { network: 'bridge', container: { id: containerId, name: 'web' } });
    const { endpoints } = await rpc.request<ContainerEndpointsReply>(NetworkPatterns.attachContainer, { containerId, pid });
    assert.deepEqual(endpoints.map((e) => e.ifname), ['eth0', 'eth1']);

    const addrs = inNetns(pid, ['ip', '-4', '-o', 'addr', 'show']);
    assert.match(addrs, new RegExp(`eth0\\s+inet 10\\.${second}\\.1\\.2/24`));
    assert.match(addrs, new RegExp(`eth1\\s+inet 10\\.${second}\\.0\\.2/24`));
    assert.match(addrs, /lo\s+inet 127\.0\.0\.1/);
    assert.match(inNetns(pid, ['ip', '-4', 'route', 'show', 'default']), new RegExp(`via 10\\.${second}\\.1\\.1 dev eth0`));
    inNetns(pid, ['busybox', 'ping', '-c', '1', '-W', '2', `10.${second}.1.1`]);
    inNetns(pid, ['busybox', 'ping', '-c', '1', '-W', '2', `10.${second}.0.1`]);

    const server = await startServerIn(pid, [8080, 8081]);
    children.push(server);
    assert.equal(await fetchGreeting('127.0.0.1', anyPort.hostPort), 'hello 8080');
    assert.equal(await fetchGreeting(`10.${second}.1.1`, anyPort.hostPort), 'hello 8080', 'through the bridge IP');
    assert.equal(await fetchGreeting('127.0.0.1', localPort.hostPort), 'hello 8081');
    assert.equal(await fetchGreeting(endpoint.ip, 8080), 'hello 8080', 'the container IP directly');

    const net = await rpc.request<NetworkView>(NetworkPatterns.inspect, { network: 'tnet' });
    assert.deepEqual(Object.keys(net.containers), [containerId]);
    assert.equal(net.containers[containerId]!.name, 'web');
    await assert.rejects(rpc.request(NetworkPatterns.remove, { network: 'tnet' }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.Forbidden);
      assert.match(e.message, /has active endpoints/);
      return true;
    });

    // stop: rules and veths go, leases stay
    await rpc.request(NetworkPatterns.containerStopped, { containerId });
    assert.ok(!linkExists(endpoint.hostVeth));
    assert.doesNotMatch(sh('nft', ['list', 'chain', 'inet', table, 'ports']), /dnat/);
    assert.equal((await rpc.request<ContainerEndpointsReply>(NetworkPatterns.containerEndpoints, { containerId })).endpoints.length, 2);

    // start again, then remove the container: leases released, nothing left in the kernel
    await rpc.request(NetworkPatterns.attachContainer, {
      containerId,
      pid,
      primary: { network: 'tnet', portBindings: { '8080/tcp': [{ HostPort: '0' }] } },
    });
    assert.match(sh('nft', ['list', 'chain', 'inet', table, 'ports']), /dnat ip to/);
    const reply = await rpc.request<{ released: string[] }>(NetworkPatterns.disconnectContainer, { containerId });
    assert.equal(reply.released.length, 2);
    assert.ok(!linkExists(endpoint.hostVeth));
    assert.doesNotMatch(inNetns(pid, ['ip', '-o', 'link']), /eth0/);
    assert.doesNotMatch(sh('nft', ['list', 'chain', 'inet', table, 'ports']), /dnat/);
    assert.deepEqual((await rpc.request<NetworkView>(NetworkPatterns.inspect, { network: 'tnet' })).containers, {});
    server.kill();
    holder.kill();
  });

  it('record-leases: none/host connects and releases of a batch, in order, one append per network', async () => {
    const [a, b, h] = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex'), randomBytes(32).toString('hex')];
    const lease = (containerId: string, network: string, connect: boolean, release: boolean) => ({ containerId, containerName: containerId.slice(0, 5), network, connect, release });
    await rpc.request(NetworkPatterns.recordLeases, { leases: [lease(a, 'none', true, true), lease(b, 'none', true, false), lease(h, 'host', true, false)] } satisfies RecordLeasesRequest);
    const none = await rpc.request<NetworkView>(NetworkPatterns.inspect, { network: 'none' });
    assert.deepEqual(Object.keys(none.containers), [b]);
    assert.deepEqual(Object.keys((await rpc.request<NetworkView>(NetworkPatterns.inspect, { network: 'host' })).containers), [h]);
    const pg = new Client({ connectionString: node.db.url });
    await pg.connect();
    try {
      const rows = (
        await pg.query<{ type: string; cid: string; tx: string }>(
          `SELECT type, COALESCE(data->>'containerId', data->'endpoint'->>'containerId') AS cid, transaction_id::text AS tx FROM network.events WHERE stream_id = $1 AND COALESCE(data->>'containerId', data->'endpoint'->>'containerId') = ANY($2) ORDER BY global_position`,
          [`network:${none.id}`, [a, b]],
        )
      ).rows;
      assert.deepEqual(rows.map((r) => `${r.type} ${r.cid}`), [`EndpointAllocated ${a}`, `EndpointReleased ${a}`, `EndpointAllocated ${b}`]);
      assert.equal(new Set(rows.map((r) => r.tx)).size, 1, 'one append');
    } finally {
      await pg.end();
    }
    await rpc.request(NetworkPatterns.recordLeases, { leases: [lease(b, 'none', false, true), lease(h, 'host', false, true)] } satisfies RecordLeasesRequest);
    assert.deepEqual((await rpc.request<NetworkView>(NetworkPatterns.inspect, { network: 'none' })).containers, {});
    await assert.rejects(rpc.request(NetworkPatterns.recordLeases, { leases: [lease(a, 'bridge', true, false)] }), (e: DomainError) => e.code === ErrorCode.InvalidArgument);
  });

  it('a rebuilt projection equals the live one; removing the network removes its bridge', async () => {
    const live = await rpc.request<NetworkView[]>(NetworkPatterns.list, {});
    await rebuild(networkService, node.config);
    assert.deepEqual(await rpc.request<NetworkView[]>(NetworkPatterns.list, {}), live);
    const n = await rpc.request<NetworkView>(NetworkPatterns.inspect, { network: 'tnet' });
    await rpc.request(NetworkPatterns.remove, { network: 'tnet' });
    assert.ok(!linkExists(n.bridge));
    await assert.rejects(rpc.request(NetworkPatterns.inspect, { network: 'tnet' }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.NotFound);
      assert.equal(e.message, 'network tnet not found');
      return true;
    });
    const pruned = await rpc.request<{ networksDeleted: string[] }>(NetworkPatterns.prune, {});
    assert.deepEqual(pruned.networksDeleted, []);
  });
});
