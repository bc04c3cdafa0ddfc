/**
 * Container networking end to end through the docker CLI: published ports reachable on 127.0.0.1,
 * `docker port`/`ps`/inspect in Docker's shapes, none/host network modes, a user-defined network,
 * connect/disconnect on a running container, and nothing left behind (veths, nft rules).
 * Traffic goes only to 127.0.0.1 and to addresses of containers this test created.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { networkNftTable } from '@berth/contracts';
import { randomSuffix, waitFor } from '@berth/testing';
import { type RunningBerth } from './harness';
import { withBerthAndBusybox } from './busybox';

let berth: RunningBerth;
let image: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sh = (cmd: string, args: string[]) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return null;
  }
};
const linkExists = (name: string) => sh('ip', ['link', 'show', 'dev', name]) !== null;
const hostVeth = (endpointId: string) => `vb${endpointId.slice(0, 10)}`;
const nftRules = () => sh('nft', ['list', 'table', 'inet', networkNftTable(String(berth.config.namespace))]) ?? '';

/** A port nothing listens on right now (the kernel's pick). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET http://host:port/path once, 2 s at most: the status and body, or the error code. */
function get(host: string, port: number, path = '/hostname'): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

/** The body of GET /hostname, retried while httpd is coming up (bounded). */
async function fetchHostname(host: string, port: number): Promise<string> {
  let last: Awaited<ReturnType<typeof get>> = { error: 'none' };
  for (let i = 0; i < 40; i++) {
    last = await get(host, port);
    if ('status' in last && last.status === 200) return last.body.trim();
    await sleep(250);
  }
  throw new Error(`http://${host}:${port}/hostname: ${JSON.stringify(last)}`);
}

const inspect = async <T = Record<string, unknown>>(ref: string, format = '{{json .}}') =>
  JSON.parse(await berth.docker(['inspect', '-f', format, ref])) as T;

interface EndpointSettings {
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
}
interface NetworkSettings {
  IPAddress: string;
  Gateway: string;
  MacAddress: string;
  IPPrefixLen: number;
  Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
  Networks: Record<string, EndpointSettings>;
}

describe('container networking through the docker CLI', { timeout: 900_000 }, () => {
  withBerthAndBusybox((f) => ({ berth, image } = f));

  test('-p HOST:80 is reachable on 127.0.0.1; docker port, ps and inspect show it; stop and rm leave no veth or rule', async () => {
    const port = await freePort();
    const name = `web-${randomSuffix()}`;
    const id = (await berth.docker(['run', '-d', '--name', name, '-p', `${port}:80`, image, 'httpd', '-f', '-p', '80', '-h', '/etc'])).trim();
    assert.equal(await fetchHostname('127.0.0.1', port), id.slice(0, 12), 'the container answers on the published port');

    assert.equal((await berth.docker(['port', name])).trim(), `80/tcp -> 0.0.0.0:${port}`);
    assert.equal((await berth.docker(['port', name, '80'])).trim(), `0.0.0.0:${port}`);
    assert.equal((await berth.docker(['ps', '--filter', `name=${name}`, '--format', '{{.Ports}}'])).trim(), `0.0.0.0:${port}->80/tcp`);

    const ns = await inspect<NetworkSettings>(name, '{{json .NetworkSettings}}');
    assert.match(ns.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
    assert.match(ns.Gateway, /^\d+\.\d+\.\d+\.1$/);
    assert.match(ns.MacAddress, /^02:42(:[0-9a-f]{2}){4}$/);
    assert.ok(ns.IPPrefixLen > 0 && ns.IPPrefixLen < 32);
    assert.deepEqual(ns.Ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(port) }] });
    assert.deepEqual(Object.keys(ns.Networks), ['bridge']);
    const ep = ns.Networks.bridge!;
    assert.equal(ep.IPAddress, ns.IPAddress);
    assert.equal(ep.Gateway, ns.Gateway);
    assert.equal(ep.MacAddress, ns.MacAddress);
    assert.match(ep.EndpointID, /^[0-9a-f]{64}$/);
    const bridgeId = (await berth.docker(['network', 'inspect', '-f', '{{.Id}}', 'bridge'])).trim();
    assert.equal(ep.NetworkID, bridgeId);
    const listed = JSON.parse(await berth.docker(['network', 'inspect', '-f', '{{json .Containers}}', 'bridge'])) as Record<string, { IPv4Address: string }>;
    assert.equal(listed[id]?.IPv4Address, `${ns.IPAddress}/${ns.IPPrefixLen}`);

    // inside: eth0 with that address, and /etc/hosts names the container's own address like Docker's
    assert.match(await berth.docker(['exec', name, 'ip', '-o', '-4', 'addr', 'show', 'eth0']), new RegExp(` ${ns.IPAddress.replace(/\./g, '\\.')}/${ns.IPPrefixLen} `));
    const hosts = await berth.docker(['exec', name, 'cat', '/etc/hosts']);
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(hosts, new RegExp(`^${ns.IPAddress.replace(/\./g, '\\.')}\\t${id.slice(0, 12)}$`, 'm'));
    // the container's own address answers from the host too
    assert.equal(await fetchHostname(ns.IPAddress, 80), id.slice(0, 12));

    const veth = hostVeth(ep.EndpointID);
    assert.ok(linkExists(veth), `host veth ${veth} while running`);
    assert.match(nftRules(), new RegExp(`dport ${port}\\b`));

    await berth.docker(['stop', '-t', '1', name]);
    assert.ok(!linkExists(veth), 'no veth after the container stopped');
    assert.doesNotMatch(nftRules(), new RegExp(`dport ${port}\\b`), 'no port rule after the container stopped');
    assert.ok('error' in (await get('127.0.0.1', port)), 'nothing answers on the port');
    assert.equal((await berth.docker(['port', name])).trim(), '');
    const stopped = await inspect<NetworkSettings>(name, '{{json .NetworkSettings}}');
    assert.deepEqual(stopped.Ports, {});
    assert.equal(stopped.IPAddress, '');

    await berth.docker(['start', name]);
    assert.equal(await fetchHostname('127.0.0.1', port), id.slice(0, 12), 'published again after a restart');
    const again = await inspect<NetworkSettings>(name, '{{json .NetworkSettings}}');
    assert.equal(again.IPAddress, ns.IPAddress, 'the lease survives stop/start');

    await berth.docker(['rm', '-f', name]);
    assert.ok(!linkExists(veth), 'no veth after removal');
    assert.doesNotMatch(nftRules(), new RegExp(`dport ${port}\\b`));
    const after = JSON.parse(await berth.docker(['network', 'inspect', '-f', '{{json .Containers}}', 'bridge'])) as Record<string, unknown>;
    assert.equal(after[id], undefined, 'the lease is released');
  });

  test('-p 0:80 and -P pick free host ports', async () => {
    const zero = (await berth.docker(['run', '-d', '-p', '0:80', image, 'httpd', '-f', '-p', '80', '-h', '/etc'])).trim();
    const all = (await berth.docker(['run', '-d', '-P', '--expose', '80', image, 'httpd', '-f', '-p', '80', '-h', '/etc'])).trim();
    const ports: number[] = [];
    for (const id of [zero, all]) {
      const line = (await berth.docker(['port', id, '80/tcp'])).trim();
      const m = /^0\.0\.0\.0:(\d+)$/.exec(line);
      assert.ok(m, `docker port: ${line}`);
      const port = Number(m[1]);
      assert.ok(port > 0 && port < 65536);
      assert.equal(await fetchHostname('127.0.0.1', port), id.slice(0, 12));
      assert.match((await berth.docker(['ps', '--filter', `id=${id}`, '--format', '{{.Ports}}'])).trim(), new RegExp(`^0\\.0\\.0\\.0:${port}->80/tcp$`));
      ports.push(port);
    }
    assert.notEqual(ports[0], ports[1]);
    const local = await freePort();
    const loopback = (await berth.docker(['run', '-d', '-p', `127.0.0.1:${local}:80`, image, 'httpd', '-f', '-p', '80', '-h', '/etc'])).trim();
    assert.equal((await berth.docker(['port', loopback])).trim(), `80/tcp -> 127.0.0.1:${local}`);
    assert.equal(await fetchHostname('127.0.0.1', local), loopback.slice(0, 12));
    await berth.docker(['rm', '-f', zero, all, loopback]);
    ports.push(local);
    for (const port of ports) assert.doesNotMatch(nftRules(), new RegExp(`dport ${port}\\b`));
  });

  test('--network none has only lo; --network host shares the host netns', async () => {
    const none = await berth.docker(['run', '--rm', '--network', 'none', image, 'sh', '-c', 'ls /sys/class/net']);
    assert.deepEqual(none.split(/\s+/).filter(Boolean), ['lo']);
    const lo = await berth.dockerResult(['run', '--rm', '--network', 'none', image, 'sh', '-c', 'ip -o link show lo | grep -q UP']);
    assert.equal(lo.code, 0, 'lo is up');
    const hostNetns = execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).trim();
    assert.equal((await berth.docker(['run', '--rm', '--network', 'host', image, 'readlink', '/proc/self/ns/net'])).trim(), hostNetns);
    // as dockerd: the host's name (/etc/hostname, the UTS name, Config.Hostname) and the host's /etc/hosts
    const onHost = await berth.docker(['run', '--rm', '--network', 'host', '--add-host', 'extra.test:10.1.2.3', image, 'sh', '-c', 'cat /etc/hostname; hostname; cat /etc/hosts']);
    const hostHosts = readFileSync('/etc/hosts', 'utf8').replace(/([^\n])$/, '$1\n');
    assert.equal(onHost, `${hostname()}\n${hostname()}\n${hostHosts}10.1.2.3\textra.test\n`);
    const id = (await berth.docker(['run', '-d', '--network', 'none', image, 'sleep', '300'])).trim();
    const nets = await inspect<Record<string, EndpointSettings>>(id, '{{json .NetworkSettings.Networks}}');
    assert.deepEqual(Object.keys(nets), ['none']);
    assert.equal(nets.none!.IPAddress, '');
    // the none network lists it once its lease is recorded (in the background, after the start)
    const members = async () => Object.keys(JSON.parse(await berth.docker(['network', 'inspect', '-f', '{{json .Containers}}', 'none'])) as object);
    await waitFor(async () => ((await members()).includes(id) ? true : null), 10_000);
    // as dockerd: a container on none, host or another's namespace joins no other network
    const hostId = (await berth.docker(['create', '--network', 'host', image, 'true'])).trim();
    const refused = await berth.dockerResult(['network', 'connect', 'bridge', id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /container cannot be connected to multiple networks with one of the networks in private \(none\) mode/);
    const shared = await berth.dockerResult(['network', 'connect', 'bridge', hostId]);
    assert.match(shared.stderr, /container sharing network namespace with another container or host cannot be connected to any other network/);
    await berth.docker(['rm', '-f', id, hostId]);
    await waitFor(async () => (!(await members()).includes(id) ? true : null), 10_000);
    // a short --rm run on none: its connect and disconnect are both in the history, connect first
    const since = Math.floor(Date.now() / 1000) - 1;
    const rm = await berth.dockerResult(['run', '--rm', '--network', 'none', '--cidfile', join(berth.dir, 'rm.cid'), image, 'true']);
    assert.equal(rm.code, 0);
    const cid = readFileSync(join(berth.dir, 'rm.cid'), 'utf8').trim();
    const actions = async () =>
      (await berth.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=network', '--format', '{{.Action}} {{.Actor.Attributes.container}}']))
        .split('\n')
        .filter((l) => l.endsWith(` ${cid}`))
        .map((l) => l.split(' ')[0]);
    assert.deepEqual(await waitFor(async () => ((await actions()).length === 2 ? await actions() : null), 10_000), ['connect', 'disconnect']);
  });

  test('a user-defined network; connect and disconnect a running container', async () => {
    const net = `n-${randomSuffix()}`;
    const missing = await berth.dockerResult(['run', '-d', '--network', net, image, 'true']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, new RegExp(`network ${net} not found`));
    assert.deepEqual((await berth.docker(['ps', '-aq'])).trim(), '', 'nothing is created for a missing network');
    await berth.docker(['network', 'create', net]);
    const server = (await berth.docker(['run', '-d', '--network', net, image, 'httpd', '-f', '-p', '80', '-h', '/etc'])).trim();
    const clientId = (await berth.docker(['run', '-d', '--network', net, image, 'sleep', '300'])).trim();
    const serverIp = (await berth.docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, server])).trim();
    const subnet = (await berth.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', net])).trim();
    assert.match(serverIp, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal((await berth.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', server])).trim(), '', 'top-level fields are the default bridge only');

    // container to container over the user bridge (busybox nc, bounded)
    const fetchFrom = (ip: string) =>
      berth.dockerResult(['exec', clientId, 'sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 80 && exit 0; sleep 0.3; done; exit 1`]);
    const viaNet = await fetchFrom(serverIp);
    assert.equal(viaNet.code, 0, viaNet.stderr);
    assert.match(viaNet.stdout, new RegExp(`${server.slice(0, 12)}\\s*$`));

    // connect: a second interface at once; inspect shows both networks
    await berth.docker(['network', 'connect', 'bridge', clientId]);
    const nets = await inspect<Record<string, EndpointSettings>>(clientId, '{{json .NetworkSettings.Networks}}');
    assert.deepEqual(Object.keys(nets).sort(), ['bridge', net].sort());
    const bridgeIp = nets.bridge!.IPAddress;
    assert.match(bridgeIp, /^\d+\.\d+\.\d+\.\d+$/);
    const addrs = await berth.docker(['exec', clientId, 'ip', '-o', '-4', 'addr']);
    assert.match(addrs, new RegExp(` ${bridgeIp.replace(/\./g, '\\.')}/`));
    assert.match(addrs, new RegExp(` ${nets[net]!.IPAddress.replace(/\./g, '\\.')}/`));
    const connectedVeth = hostVeth(nets.bridge!.EndpointID);
    assert.ok(linkExists(connectedVeth));

    // disconnect from the user network: its interface goes, the container can no longer reach the server
    await berth.docker(['network', 'disconnect', net, clientId]);
    const left = await inspect<Record<string, EndpointSettings>>(clientId, '{{json .NetworkSettings.Networks}}');
    assert.deepEqual(Object.keys(left), ['bridge']);
    const addrsAfter = await berth.docker(['exec', clientId, 'ip', '-o', '-4', 'addr']);
    assert.doesNotMatch(addrsAfter, new RegExp(` ${nets[net]!.IPAddress.replace(/\./g, '\\.')}/`));
    assert.ok(!linkExists(hostVeth(nets[net]!.EndpointID)));
    assert.ok(!subnet.startsWith(bridgeIp.split('.').slice(0, 3).join('.') + '.'), 'the networks have distinct subnets');

    const rmNet = await berth.dockerResult(['network', 'rm', net]);
    assert.notEqual(rmNet.code, 0, 'a network with a container cannot be removed');
    await berth.docker(['rm', '-f', server, clientId]);
    assert.ok(!linkExists(connectedVeth));
    await berth.docker(['network', 'rm', net]);
  });

  test('nothing is left: no veth of this Berth, no port rule', async () => {
    assert.deepEqual((await berth.docker(['ps', '-aq'])).trim(), '');
    assert.doesNotMatch(nftRules(), /dnat/);
    const bridge = JSON.parse(await berth.docker(['network', 'inspect', '-f', '{{json .Containers}}', 'bridge'])) as Record<string, unknown>;
    assert.deepEqual(bridge, {});
  });
});
