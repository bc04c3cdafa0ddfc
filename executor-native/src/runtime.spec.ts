/**
 * Runs the C unit tests of the runtime (namespace order, mount sequence, cgroup v1/v2 writes,
 * user resolution, error reporting) against the recording fake of struct sys_ops. No root needed.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nativeRoot } from './native';

it('runtime sequences against the recording sys_ops fake', () => {
  const bin = join(nativeRoot, 'build', 'runtime-test');
  assert.ok(existsSync(bin), `build first: npm run build --workspace executor-native (${bin})`);
  const r = spawnSync(bin, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /, 0 failures/);
});
