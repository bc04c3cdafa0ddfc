import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureInitLayer } from './init-layer';

const tmp = mkdtempSync(join(tmpdir(), 'berth-init-layer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('ensureInitLayer', () => {
  it("holds Docker's init layer content, is made once and left as it is", () => {
    const dir = ensureInitLayer(tmp);
    assert.equal(dir, join(tmp, 'init-layer', 'v1'));
    assert.deepEqual(readdirSync(dir).sort(), ['.dockerenv', 'dev', 'etc', 'proc', 'sys']);
    assert.deepEqual(readdirSync(join(dir, 'etc')).sort(), ['hostname', 'hosts', 'mtab', 'resolv.conf']);
    for (const d of ['', 'dev', 'proc', 'sys', 'etc']) assert.equal(statSync(join(dir, d)).mode & 0o7777, 0o755, d || '/');
    assert.equal(statSync(join(dir, 'etc', 'hosts')).size, 0);
    assert.equal(statSync(join(dir, 'etc', 'hosts')).mode & 0o7777, 0o644);
    assert.equal(readlinkSync(join(dir, 'etc', 'mtab')), '/proc/mounts');
    const made = lstatSync(join(dir, '.dockerenv')).ino;
    assert.equal(ensureInitLayer(tmp), dir);
    assert.equal(lstatSync(join(dir, '.dockerenv')).ino, made, 'not made again');
    assert.deepEqual(readdirSync(join(tmp, 'init-layer')), ['v1'], 'no temporary dir left');
  });

  it("sweeps what a crash while building left, not another executor's build under way", () => {
    const root = join(tmp, 'init-layer');
    mkdirSync(join(root, '.tmp-crashed', 'etc'), { recursive: true });
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(root, '.tmp-crashed'), old, old);
    mkdirSync(join(root, '.tmp-building'));
    ensureInitLayer(tmp);
    assert.deepEqual(readdirSync(root).sort(), ['.tmp-building', 'v1']);
  });
});
