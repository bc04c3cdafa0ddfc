import assert from 'node:assert/strict';
import { readFileSync, rmdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { DYNMODS_MOUNTPOINT, favorCgroupDynmods } from './cgroup-dynmods';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== 'true' ? 'needs root' : false;

// The kernel's switch stays on until reboot once made (a real Berth makes it at every start); the
// mount this test made is removed again, so the run leaves no mount behind.
describe('favorCgroupDynmods (root, real kernel)', { skip }, () => {
  let mounted = false;
  after(() => {
    if (!mounted) return;
    execFileSync('umount', [DYNMODS_MOUNTPOINT]);
    rmdirSync(DYNMODS_MOUNTPOINT);
  });

  it('leaves some cgroup mount with favordynmods, and is idempotent', async () => {
    const first = await favorCgroupDynmods();
    mounted = first === 'mounted';
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
