import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BLANK_SUBDIRS, BlankDirs, spreadSubdirs } from './blank-dirs';

const tmp = mkdtempSync(join(tmpdir(), 'berth-blank-dirs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function filled(b: BlankDirs, n: number) {
  for (let i = 0; i < 200 && b.available < n; i++) await sleep(5);
  assert.equal(b.available, n);
}

describe('BlankDirs', () => {
  it('fills to its size, hands each blank out once (renamed into place), then refills', async () => {
    const errors: Error[] = [];
    const b = new BlankDirs(join(tmp, 'a'), 2, (e) => errors.push(e), 0);
    await filled(b, 2);
    const dests = [join(tmp, 'c1'), join(tmp, 'c2'), join(tmp, 'c3')];
    assert.equal(b.take(dests[0]!), true);
    assert.equal(b.take(dests[1]!), true);
    assert.equal(b.take(dests[2]!), false, 'none ready: the caller makes its own');
    for (const d of dests.slice(0, 2)) {
      for (const s of BLANK_SUBDIRS) assert.ok(statSync(join(d, s)).isDirectory(), `${d}/${s}`);
      assert.equal(statSync(d).mode & 0o777, 0o710);
      assert.equal(statSync(join(d, 'upper')).mode & 0o777, 0o755, "upper/ is the container's /");
    }
    assert.ok(!existsSync(dests[2]!));
    await filled(b, 2);
    assert.equal(readdirSync(join(tmp, 'a')).length, 2);
    b.close();
    assert.deepEqual(errors, []);
  });

  it('a destination that exists is an error reported, not a blank lost', () => {
    const root = join(tmp, 'b');
    mkdirSync(join(root, 'x', 'upper'), { recursive: true });
    mkdirSync(join(root, 'x', 'work'));
    mkdirSync(join(root, 'x', 'rootfs'));
    const errors: Error[] = [];
    const b = new BlankDirs(root, 1, (e) => errors.push(e), 60_000);
    const dest = join(tmp, 'taken');
    mkdirSync(join(dest, 'upper'), { recursive: true });
    assert.equal(b.take(dest), false);
    assert.equal(errors.length, 1);
    assert.equal(b.available, 1);
    b.close();
  });

  it("takes an earlier executor's whole blanks and deletes the partial ones", async () => {
    const root = join(tmp, 'c');
    mkdirSync(join(root, 'whole', 'upper'), { recursive: true });
    mkdirSync(join(root, 'whole', 'work'));
    mkdirSync(join(root, 'whole', 'rootfs'));
    mkdirSync(join(root, 'partial', 'upper'), { recursive: true });
    const b = new BlankDirs(root, 1, () => undefined, 60_000);
    assert.equal(b.available, 1);
    for (let i = 0; i < 200 && existsSync(join(root, 'partial')); i++) await sleep(5);
    assert.ok(!existsSync(join(root, 'partial')));
    assert.equal(b.take(join(tmp, 'from-whole')), true);
    assert.ok(existsSync(join(tmp, 'from-whole', 'rootfs')));
    b.close();
  });
});

describe('spreadSubdirs', () => {
  it('marks the dirs as tops of directory hierarchies on ext4 (chattr +T); elsewhere it only reports', async (t) => {
    const dir = join(tmp, 'spread');
    mkdirSync(dir);
    const errors: Error[] = [];
    await spreadSubdirs([dir], (e) => errors.push(e));
    const fs = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
    if (!/^ext[234]/.test(fs)) return t.skip(`${tmp} is on ${fs}`);
    assert.deepEqual(errors, []);
    assert.match(execFileSync('lsattr', ['-d', dir], { encoding: 'utf8' }).split(' ')[0]!, /T/);
  });
});
