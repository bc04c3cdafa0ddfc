import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { favorCgroupDynmods } from './cgroup-dynmods';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== 'true' ? 'needs root' : false;

// The mount is a deliberate host-wide setting (the executor makes it at every start; it stays until
// reboot, and unmounting would not undo the kernel's switch), so this test does not remove it.
describe('favorCgroupDynmods (root, real kernel)', { skip }, () => {
  it('leaves some cgroup mount with favordynmods, and is idempotent', async () => {
    const first = await favorCgroupDynmods();
    if (typeof first === 'object') {
      // a kernel without the option (< 6.0) keeps the slow path; then the mount must not be there
      assert.match(first.unsupported, /./);
      return;
    }
    const favored = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .filter((l) => /^\S+ \S+ cgroup2? /.test(l) && l.split(' ')[3]!.split(',').includes('favordynmods'));
    assert.ok(favored.length >= 1, 'a cgroup mount has favordynmods');
    assert.equal(await favorCgroupDynmods(), 'already');
  });
});
