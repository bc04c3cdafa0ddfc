/**
 * Networks end-to-end: the real docker CLI against a Berth started with `berth up`.
 * Needs root, Postgres and Redis (as `berth test` provides) and every service built.
 * Cleanup: the namespace's nft table and bridges go in `after`, whatever the tests did.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { defaultBridgeName, networkNftTable } from '@berth/contracts';
import { randomSuffix } from '@berth/testing';
import { startBerth, type RunningBerth } from './harness';

let berth: RunningBerth;
const second = randomInt(100, 250);

const trySh = (cmd: string, args: string[]) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return null;
  }
};
const linkExists = (name: string) => trySh('ip', ['link', 'show', 'dev', name]) !== null;

before(async () => {
  // Our own pool: the host's real berth0 (172.17/16) is never touched.
  berth = await startBerth({ config: { 'default-address-pools': [{ base: `10.${second}.0.0/16`, size: 24 }] } });
}, { timeout: 300_000 });

after(async () => {
  const ns = berth?.config.namespace;
  try {
    await berth?.stop();
  } finally {
    if (ns) {
      trySh('nft', ['delete', 'table', 'inet', networkNftTable(ns)]);
      const prefix = defaultBridgeName(ns).slice(0, 6); // bt<hash4>: the namespace's user bridges
      for (const line of (trySh('ip', ['-o', 'link', 'show']) ?? '').split('\n')) {
        const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
        if (name && (name === defaultBridgeName(ns) || name.startsWith(`${prefix}-`))) trySh('ip', ['link', 'del', name]);
      }
    }
  }
}, { timeout: 180_000 });

test('docker network ls shows bridge, host and none; /networks/bridge inspects with IPAM', async () => {
  const ls = await berth.docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
  const rows = ls.trim().split('\n').sort();
  assert.deepEqual(rows, ['bridge bridge local', 'host host local', 'none null local']);
  const [bridge] = JSON.parse(await berth.docker(['network', 'inspect', 'bridge'])) as {
    Name: string;
    Id: string;
    IPAM: { Config: { Subnet: string; Gateway: string }[] };
    Options: Record<string, string>;
    Containers: Record<string, unknown>;
  }[];
  assert.equal(bridge!.Name, 'bridge');
  assert.match(bridge!.Id, /^[0-9a-f]{64}$/);
  assert.deepEqual(bridge!.IPAM.Config, [{ Subnet: `10.${second}.0.0/24`, Gateway: `10.${second}.0.1` }]);
  assert.deepEqual(bridge!.Containers, {});
  const iface = bridge!.Options['com.docker.network.bridge.name']!;
  assert.equal(iface, defaultBridgeName(berth.config.namespace!));
  assert.ok(linkExists(iface), `bridge ${iface} exists`);
});

test('docker network create / inspect / ls filters / rm', async () => {
  const name = `e2e-net-${randomSuffix()}`;
  const id = (await berth.docker(['network', 'create', '--label', 'e2e=yes', name])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const dup = await berth.dockerResult(['network', 'create', name]);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, /network with name .* already exists/);

  const [n] = JSON.parse(await berth.docker(['network', 'inspect', name])) as {
    Id: string;
    Driver: string;
    Labels: Record<string, string>;
    IPAM: { Config: { Subnet: string; Gateway: string }[] };
  }[];
  assert.equal(n!.Id, id);
  assert.equal(n!.Driver, 'bridge');
  assert.deepEqual(n!.Labels, { e2e: 'yes' });
  assert.deepEqual(n!.IPAM.Config, [{ Subnet: `10.${second}.1.0/24`, Gateway: `10.${second}.1.1` }]);
  assert.equal((await berth.docker(['network', 'inspect', '-f', '{{.Name}}', id.slice(0, 12)])).trim(), name);

  const byLabel = await berth.docker(['network', 'ls', '--filter', 'label=e2e=yes', '--format', '{{.Name}}']);
  assert.equal(byLabel.trim(), name);
  const custom = await berth.docker(['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}']);
  assert.equal(custom.trim(), name);
  const builtin = await berth.docker(['network', 'ls', '--filter', 'type=builtin', '--filter', 'driver=null', '--format', '{{.Name}}']);
  assert.equal(builtin.trim(), 'none');
  const byId = await berth.docker(['network', 'ls', '-q', '--no-trunc', '--filter', `id=${id.slice(0, 10)}`]);
  assert.equal(byId.trim(), id);
  const dangling = await berth.docker(['network', 'ls', '--filter', 'dangling=true', '--format', '{{.Name}}']);
  assert.equal(dangling.trim(), name);

  const rmBridge = await berth.dockerResult(['network', 'rm', 'bridge']);
  assert.notEqual(rmBridge.code, 0);
  assert.match(rmBridge.stderr, /bridge is a pre-defined network and cannot be removed/);

  assert.equal((await berth.docker(['network', 'rm', name])).trim(), name);
  const gone = await berth.dockerResult(['network', 'inspect', name]);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /not found/);
});

test('docker network prune removes unused user networks only', async () => {
  const name = `e2e-prune-${randomSuffix()}`;
  await berth.docker(['network', 'create', name]);
  const out = await berth.docker(['network', 'prune', '-f']);
  assert.match(out, new RegExp(name));
  const ls = await berth.docker(['network', 'ls', '--format', '{{.Name}}']);
  assert.deepEqual(ls.trim().split('\n').sort(), ['bridge', 'host', 'none']);
});

test('network events: create and destroy', async () => {
  const name = `e2e-ev-${randomSuffix()}`;
  const since = Math.floor(Date.now() / 1000) - 1;
  const id = (await berth.docker(['network', 'create', name])).trim();
  await berth.docker(['network', 'rm', name]);
  const until = Math.ceil(Date.now() / 1000) + 1;
  const out = await berth.docker(
    ['events', '--since', String(since), '--until', String(until), '--filter', 'type=network', '--format', '{{json .}}'],
    { timeoutMs: 30_000 },
  );
  const events = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } });
  const mine = events.filter((e) => e.Actor.ID === id);
  assert.deepEqual(mine.map((e) => e.Action), ['create', 'destroy'], out);
  assert.equal(mine[0]!.Actor.Attributes.name, name);
  assert.equal(mine[0]!.Actor.Attributes.type, 'bridge');
});
