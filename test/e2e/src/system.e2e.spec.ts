/**
 * System end-to-end: the real docker CLI against a Berth started with `berth up`.
 * Needs root, Postgres and Redis (as `berth test` provides) and every service built.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { randomSuffix } from '@berth/testing';
import { startBerth, type RunningBerth } from './harness';

let berth: RunningBerth;

before(async () => {
  berth = await startBerth();
}, { timeout: 300_000 });

after(async () => {
  await berth?.stop();
}, { timeout: 180_000 });

test('docker version shows a Server section from Berth', async () => {
  const text = await berth.docker(['version']);
  assert.match(text, /^Server:/m, text);
  const v = JSON.parse(await berth.docker(['version', '--format', '{{json .}}'])) as {
    Server?: { Platform?: { Name?: string }; Version?: string; ApiVersion?: string; Os?: string; Components?: { Name: string }[] };
  };
  assert.ok(v.Server, 'no Server section');
  assert.match(JSON.stringify(v.Server), /berth/i, `the Server section does not name Berth: ${JSON.stringify(v.Server)}`);
  assert.ok(v.Server.ApiVersion, 'Server.ApiVersion');
  assert.equal(v.Server.Os, 'linux');
});

test('docker info shows real figures', async () => {
  const info = JSON.parse(await berth.docker(['info', '--format', '{{json .}}'])) as Record<string, unknown>;
  const cpuCounts = new Set([cpus().length, availableParallelism()]);
  assert.ok(cpuCounts.has(info.NCPU as number), `NCPU ${String(info.NCPU)} is not this machine's ${[...cpuCounts].join('/')}`);
  const mem = info.MemTotal as number;
  assert.ok(Math.abs(mem - totalmem()) / totalmem() < 0.05, `MemTotal ${mem} is not this machine's ${totalmem()}`);
  assert.equal(info.KernelVersion, release());
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  if (pretty) assert.match(String(info.OperatingSystem), new RegExp(pretty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.equal(info.OSType, 'linux');
  assert.ok(typeof info.ServerVersion === 'string' && info.ServerVersion.length > 0, 'ServerVersion');
  assert.ok(typeof info.ID === 'string' && info.ID.length > 0, 'ID');
});

test('events survive a restart: a volume create is still in docker events after berth down && berth up', { timeout: 300_000 }, async () => {
  const name = `e2e-vol-${randomSuffix()}`;
  const since = Math.floor(Date.now() / 1000) - 1;
  assert.equal((await berth.docker(['volume', 'create', name])).trim(), name);

  await berth.restart();

  const until = Math.ceil(Date.now() / 1000) + 1;
  const out = await berth.docker(['events', '--since', String(since), '--until', String(until), '--format', '{{json .}}'], {
    timeoutMs: 60_000,
  });
  const events = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Type?: string; Action?: string; Actor?: { ID?: string } });
  assert.ok(
    events.some((e) => e.Type === 'volume' && e.Action === 'create' && e.Actor?.ID === name),
    `no volume create event for ${name} after the restart; got:\n${out}`,
  );
  assert.match(await berth.docker(['volume', 'ls', '--format', '{{.Name}}']), new RegExp(`^${name}$`, 'm'));
  await berth.docker(['volume', 'rm', name]);
});
