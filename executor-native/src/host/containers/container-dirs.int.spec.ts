import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createTempDir } from '@berth/testing';
import { ContainerRuntime } from './container-runtime';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== 'true' ? 'needs root' : false;
const mode = (p: string) => statSync(p).mode & 0o7777;
const quiet = { log() {}, warn() {}, error() {} };

describe('ContainerRuntime: container dirs (root)', { skip }, () => {
  const tmp = createTempDir('berth-container-dirs-');
  after(() => tmp.remove());

  it("opens the 0710 roots an earlier executor made, prepares with the init layer first and an open /", async () => {
    const dataRoot = join(tmp.path, 'r');
    const old = join(dataRoot, 'containers', 'a'.repeat(64), 'upper');
    const chmodded = join(dataRoot, 'containers', 'b'.repeat(64), 'upper');
    mkdirSync(old, { recursive: true, mode: 0o710 });
    mkdirSync(chmodded, { recursive: true, mode: 0o700 });
    const layer = join(tmp.path, 'layer');
    mkdirSync(layer);
    const rt = new ContainerRuntime(dataRoot, join(tmp.path, 'exec'), async () => undefined, quiet);
    try {
      assert.equal(mode(old), 0o755, 'a root an older executor locked is opened');
      assert.equal(mode(chmodded), 0o700, 'any other mode is the container\'s own');
      const id = 'c'.repeat(64);
      await rt.prepare({ id, layerDirs: [layer] });
      const dir = join(dataRoot, 'containers', id);
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'layers.json'), 'utf8')), [join(dataRoot, 'init-layer', 'v1'), layer]);
      assert.equal(mode(join(dir, 'upper')), 0o755);
      assert.equal(mode(dir), 0o710);
    } finally {
      await rt.close();
    }
  });
});
