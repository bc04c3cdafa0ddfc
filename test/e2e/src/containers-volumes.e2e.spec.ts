/**
 * Containers and volumes through the real docker CLI: mount references owned by the volumes service
 * (`volume rm` of a used volume is a 409 naming the container, `ls -f dangling`, `prune` skips used
 * volumes), anonymous volumes (`-v /data`, image VOLUMEs with copy-up of the image's content),
 * `rm -v` and `--rm` removing anonymous volumes only, and inspect `Mounts`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseReference, RegistryClient } from '@berth/oci';
import { buildImage, buildLayer, busyboxRootfsEntries, pushImage, startTestRegistry, type TestRegistry } from '@berth/oci/dist/testing';
import { randomSuffix } from '@berth/testing';
import { startBerth, type RunningBerth } from './harness';

let berth: RunningBerth;
let reg: TestRegistry;
let image: string;
let withVolume: string;
const client = new RegistryClient();

const lines = (s: string) => s.split('\n').filter(Boolean);
const name = (p: string) => `${p}-${randomSuffix()}`;
const HEX64 = /^[0-9a-f]{64}$/;

interface DockerMount {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}
const mounts = async (ref: string): Promise<DockerMount[]> => JSON.parse(await berth.docker(['inspect', '-f', '{{json .Mounts}}', ref])) as DockerMount[];
const volumes = async (...args: string[]) => lines(await berth.docker(['volume', 'ls', '-q', ...args]));

describe('containers and volumes through the docker CLI', { timeout: 900_000 }, () => {
  before(async () => {
    reg = await startTestRegistry();
    const env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
    const rootfs = await buildLayer(busyboxRootfsEntries());
    image = `${reg.host}/busybox:1`;
    await pushImage(client.repository(parseReference(image), undefined, { push: true }), buildImage([rootfs], { config: { Env: env, Cmd: ['sh'] } }), '1');
    const content = await buildLayer([
      { name: 'vol/', type: 'directory' },
      { name: 'vol/hello', data: 'from-image\n' },
      { name: 'vol/sub/', type: 'directory' },
      { name: 'vol/sub/deep', data: 'deep\n' },
    ]);
    withVolume = `${reg.host}/withvol:1`;
    await pushImage(
      client.repository(parseReference(withVolume), undefined, { push: true }),
      buildImage([rootfs, content], { config: { Env: env, Cmd: ['sh'], Volumes: { '/vol': {} } } }),
      '1',
    );
    berth = await startBerth();
    await berth.docker(['pull', image], { timeoutMs: 120_000 });
    await berth.docker(['pull', withVolume], { timeoutMs: 120_000 });
  }, { timeout: 300_000 });

  after(async () => {
    await berth?.stop();
    await reg?.stop();
    await client.close();
  }, { timeout: 180_000 });

  test('a volume used by a container (created, running or stopped) is in use: rm 409, dangling, prune skips it', async () => {
    const v = name('used');
    const spare = name('spare');
    await berth.docker(['volume', 'create', v]);
    await berth.docker(['volume', 'create', spare]);
    const c = name('user');
    const id = (await berth.docker(['create', '--name', c, '-v', `${v}:/data`, image, 'sh', '-c', 'echo hi > /data/f'])).trim();
    const refused = await berth.dockerResult(['volume', 'rm', v]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`remove ${v}: volume is in use - \\[${id}\\]`));
    assert.deepEqual(await volumes('-f', 'dangling=true'), [spare]);
    assert.deepEqual(await volumes('-f', 'dangling=false'), [v]);

    await berth.docker(['start', '-a', c], { timeoutMs: 60_000 });
    assert.match((await berth.dockerResult(['volume', 'rm', v])).stderr, /volume is in use/);
    const pruned = await berth.docker(['volume', 'prune', '-af']);
    assert.match(pruned, new RegExp(spare));
    assert.doesNotMatch(pruned, new RegExp(v));
    assert.deepEqual(await volumes(), [v]);

    // the raw API answers 409 with Docker's wording
    const raw = await berth.dockerResult(['volume', 'rm', '-f', v]);
    assert.match(raw.stderr, /volume is in use/);

    await berth.docker(['rm', c]);
    assert.deepEqual(await volumes('-f', 'dangling=true'), [v]);
    await berth.docker(['volume', 'rm', v]);
    assert.deepEqual(await volumes(), []);
  });

  test('-v /data makes an anonymous volume; inspect Mounts; rm keeps it, rm -v removes it, named volumes stay', async () => {
    const a = name('anon');
    await berth.docker(['run', '-d', '--name', a, '-v', '/data', image, 'sleep', '300']);
    const [m, ...more] = await mounts(a);
    assert.equal(more.length, 0);
    assert.equal(m!.Type, 'volume');
    assert.match(m!.Name!, HEX64);
    assert.equal(m!.Source, join(berth.config['data-root']!, 'volumes', m!.Name!, '_data'));
    assert.equal(m!.Destination, '/data');
    assert.equal(m!.Driver, 'local');
    assert.equal(m!.Mode, '');
    assert.equal(m!.RW, true);
    assert.equal(m!.Propagation, '');
    assert.deepEqual(await volumes(), [m!.Name]);
    await berth.docker(['exec', a, 'sh', '-c', 'echo kept > /data/x']);
    assert.equal(await berth.docker(['run', '--rm', '-v', `${m!.Name}:/d`, image, 'cat', '/d/x']), 'kept\n');
    assert.match((await berth.dockerResult(['volume', 'rm', m!.Name!])).stderr, /volume is in use/);
    await berth.docker(['rm', '-f', a]);
    assert.deepEqual(await volumes(), [m!.Name]);
    await berth.docker(['volume', 'rm', m!.Name!]);

    const b = name('anonv');
    const named = name('named');
    await berth.docker(['run', '--name', b, '-v', '/data', '-v', `${named}:/named`, image, 'true']);
    const bm = await mounts(b);
    const anon = bm.find((x) => x.Destination === '/data')!;
    assert.match(anon.Name!, HEX64);
    const n = bm.find((x) => x.Destination === '/named')!;
    assert.deepEqual([n.Name, n.Mode, n.RW], [named, 'z', true]);
    assert.deepEqual((await volumes()).sort(), [anon.Name!, named].sort());
    await berth.docker(['rm', '-v', b]);
    assert.deepEqual(await volumes(), [named]);
    assert.equal(existsSync(anon.Source), false);
    await berth.docker(['volume', 'rm', named]);
  });

  test('image VOLUMEs get anonymous volumes with the image content copied up; --rm removes them', async () => {
    assert.equal(await berth.docker(['run', '--rm', withVolume, 'cat', '/vol/hello', '/vol/sub/deep']), 'from-image\ndeep\n');
    assert.deepEqual(await volumes(), []);

    const d = name('imgvol');
    await berth.docker(['run', '--name', d, withVolume, 'sh', '-c', 'echo new > /vol/new']);
    const [m] = await mounts(d);
    assert.equal(m!.Destination, '/vol');
    assert.match(m!.Name!, HEX64);
    assert.equal(m!.Mode, '');
    // the content lives in the volume (copied up), with what the container wrote
    assert.equal(await berth.docker(['run', '--rm', '-v', `${m!.Name}:/v`, image, 'cat', '/v/hello', '/v/new']), 'from-image\nnew\n');
    // a named volume that is empty when first mounted gets the image content too; a non-empty one does not
    const named = name('copyup');
    assert.deepEqual(lines(await berth.docker(['run', '--rm', '-v', `${named}:/vol`, withVolume, 'ls', '/vol'])), ['hello', 'sub']);
    await berth.docker(['run', '--rm', '-v', `${named}:/vol`, withVolume, 'sh', '-c', 'rm -r /vol/hello /vol/sub; echo mine > /vol/mine']);
    assert.deepEqual(lines(await berth.docker(['run', '--rm', '-v', `${named}:/vol`, withVolume, 'ls', '/vol'])), ['mine']);
    // -v /vol:... bind or named covers the image VOLUME: no anonymous volume
    assert.deepEqual((await volumes()).sort(), [m!.Name!, named].sort());
    await berth.docker(['rm', '-v', d]);
    assert.deepEqual(await volumes(), [named]);
    await berth.docker(['volume', 'rm', named]);
    assert.deepEqual(await volumes(), []);
  });
});
