import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { containerChanges } from './changes';

const tmp = mkdtempSync(join(tmpdir(), 'berth-changes-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('containerChanges', () => {
  it('reports every directory with a change inside as Modified, outermost first, even one the same as below (a copy-up)', async () => {
    const lower = join(tmp, 'lower');
    const upper = join(tmp, 'upper');
    for (const root of [lower, upper]) {
      mkdirSync(join(root, 'a', 'b'), { recursive: true });
      writeFileSync(join(root, 'a', 'b', 'f'), root === lower ? 'old' : 'new content');
    }
    mkdirSync(join(upper, 'a', 'c'));
    writeFileSync(join(upper, 'a', 'c', 'g'), 'added');
    mkdirSync(join(lower, 'a', 'c'));
    // as overlayfs copies a directory up: the lower's attributes
    for (const d of [join('a', 'b'), join('a', 'c'), 'a']) {
      const st = statSync(join(lower, d));
      utimesSync(join(upper, d), st.atime, st.mtime);
    }
    assert.deepEqual(
      (await containerChanges(upper, [lower])).map((c) => `${'CAD'[c.Kind]} ${c.Path}`),
      ['C /a', 'C /a/b', 'C /a/b/f', 'C /a/c', 'A /a/c/g'],
    );
  });
});
