import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createTempDir } from '@berth/testing';
import { ensureStateTmpfs, onTmpfs } from './state-tmpfs';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== 'true' ? 'needs root' : false;

const mountsUnder = (path: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4]?.startsWith(path));

describe('ensureStateTmpfs (root, real mounts)', { skip }, () => {
  const tmp = createTempDir('berth-state-tmpfs-');
  after(() => {
    tmp.remove(); // detaches the berth-state mounts under it
    assert.deepEqual(mountsUnder(tmp.path), []);
  });

  it('mounts a tmpfs on an empty state root on disk, once', async () => {
    const root = join(tmp.path, 'exec', 's');
    assert.equal(await ensureStateTmpfs(root), 'mounted');
    assert.ok(onTmpfs(root));
    const line = mountsUnder(root)[0]!;
    assert.match(line, / - tmpfs berth-state /);
    assert.match(line, /nosuid/);
    assert.match(line, /nodev/);
    writeFileSync(join(root, 'f'), 'x');
    assert.equal(await ensureStateTmpfs(root), 'already', 'a restarted executor keeps the mount and what is in it');
    assert.equal(readFileSync(join(root, 'f'), 'utf8'), 'x');
    assert.equal(mountsUnder(root).length, 1);
  });

  it('leaves a state root on disk that holds state dirs (running shims would be hidden)', async () => {
    const root = join(tmp.path, 'exec2', 's');
    mkdirSync(join(root, 'abc'), { recursive: true });
    const r = await ensureStateTmpfs(root);
    assert.deepEqual(r, { kept: 'it holds running shims' });
    assert.ok(!onTmpfs(root));
  });
});
