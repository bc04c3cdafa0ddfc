import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectCgroups, parseOsRelease } from './host-facts';
import { loadEngineId } from './engine-id';

test('os-release: PRETTY_NAME, quoted or not', () => {
  const r = parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n');
  assert.deepEqual(r, { prettyName: 'Debian GNU/Linux 12 (bookworm)', versionId: '12' });
  assert.equal(parseOsRelease('NAME=Alpine\n').prettyName, 'Alpine');
});

test('cgroups: a non-cgroup2 root is v1, capabilities from controller files', () => {
  const root = mkdtempSync(join(tmpdir(), 'cg-'));
  try {
    mkdirSync(join(root, 'memory'));
    writeFileSync(join(root, 'memory', 'memory.limit_in_bytes'), '');
    mkdirSync(join(root, 'cpu'));
    writeFileSync(join(root, 'cpu', 'cpu.shares'), '');
    mkdirSync(join(root, 'pids'));
    const caps = detectCgroups(root, () => 0x01021994 /* tmpfs */);
    assert.equal(caps.version, '1');
    assert.equal(caps.memoryLimit, true);
    assert.equal(caps.swapLimit, false);
    assert.equal(caps.cpuShares, true);
    assert.equal(caps.cpuCfsQuota, false);
    assert.equal(caps.pidsLimit, true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cgroups: a cgroup2 root is v2, capabilities from cgroup.controllers', () => {
  const root = mkdtempSync(join(tmpdir(), 'cg-'));
  try {
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    const caps = detectCgroups(root, () => 0x63677270);
    assert.equal(caps.version, '2');
    assert.equal(caps.memoryLimit, true);
    assert.equal(caps.cpuSet, true);
    assert.equal(caps.pidsLimit, true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('engine id is generated once and kept', () => {
  const root = mkdtempSync(join(tmpdir(), 'eid-'));
  try {
    const id = loadEngineId(join(root, 'data'));
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(loadEngineId(join(root, 'data')), id);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
