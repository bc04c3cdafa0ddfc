/**
 * Containers end to end: the real docker CLI against a Berth started with `berth up`, running a
 * busybox image the test builds and serves from a loopback registry.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type TestRegistry } from '@berth/oci/dist/testing';
import { randomSuffix } from '@berth/testing';
import { run, type RunningBerth } from './harness';
import { withBerthAndBusybox } from './busybox';

let berth: RunningBerth;
let reg: TestRegistry;
let image: string;

const ids = async (args: string[]) => (await berth.docker(args)).split('\n').filter(Boolean);

describe('containers through the docker CLI', { timeout: 900_000 }, () => {
  withBerthAndBusybox((f) => ({ berth, reg, image } = f));

  test('docker run --rm prints the output, propagates the exit code and leaves nothing', async () => {
    const out = await berth.dockerResult(['run', '--rm', image, 'echo', 'hi']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, 'hi\n');
    const three = await berth.dockerResult(['run', '--rm', image, 'sh', '-c', 'echo err >&2; exit 3']);
    assert.equal(three.code, 3, three.stderr);
    assert.match(three.stderr, /err/);
    assert.deepEqual(await ids(['ps', '-aq']), []);
  });

  test("the container's / is Docker's: 0755 (another user and group can use it), /.dockerenv, /etc/mtab", async () => {
    // The overlay's root takes the upper dir's mode: 0710 once locked out every uid:gid but root's.
    const out = await berth.dockerResult(['run', '--rm', '--user', '1000:1000', image, 'sh', '-c', 'stat -c %a /; ls /bin/busybox; readlink /etc/mtab; test -f /.dockerenv && echo env']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, '755\n/bin/busybox\n/proc/mounts\nenv\n');
  });

  test('run -d --name, ps, filters, --format, inspect -f, logs, exec, stop, rm', async () => {
    const name = `web-${randomSuffix()}`;
    const id = (await berth.docker(['run', '-d', '--name', name, '--label', 'team=a', image, 'sh', '-c', 'echo started; exec sleep 300'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.deepEqual(await ids(['ps', '-q', '--no-trunc']), [id]);
    assert.deepEqual(await ids(['ps', '--filter', `name=${name}`, '--format', '{{.Names}} {{.Status}}']).then((l) => l.map((x) => x.replace(/Up .*/, 'Up'))), [`${name} Up`]);
    assert.deepEqual(await ids(['ps', '-q', '--filter', 'label=team=b']), []);
    assert.equal((await berth.docker(['inspect', '-f', '{{.State.Running}} {{.Name}}', name])).trim(), `true /${name}`);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('started'); i++) {
      logs = await berth.docker(['logs', name]);
      if (!logs.includes('started')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(logs, 'started\n');
    const exec = await berth.dockerResult(['exec', name, 'sh', '-c', 'echo in-$HOSTNAME; exit 4']);
    assert.equal(exec.code, 4, exec.stderr);
    assert.equal(exec.stdout, `in-${id.slice(0, 12)}\n`);
    // as dockerd: the exited exec is no longer among the container's ExecIDs
    assert.equal((await berth.docker(['inspect', '-f', '{{json .ExecIDs}}', name])).trim(), 'null');
    const dup = await berth.dockerResult(['run', '-d', '--name', name, image, 'true']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already in use/);
    await berth.docker(['stop', '-t', '1', name]);
    assert.match((await berth.docker(['ps', '-a', '--filter', `name=${name}`, '--format', '{{.Status}}'])).trim(), /^Exited \(137\)/);
    assert.equal((await berth.docker(['wait', name])).trim(), '137');
    await berth.docker(['rm', name]);
    assert.deepEqual(await ids(['ps', '-aq']), []);
  });

  test('docker run -it under a pty, exit code from the shell', async () => {
    const cmd = `${['docker', '-H', `unix://${berth.socket}`, 'run', '-it', '--rm', image, 'sh', '-c', '"tty; exit 5"'].join(' ')}`;
    const r = await run('script', ['-qec', cmd, '/dev/null'], { ...berth.env, DOCKER_CONFIG: `${berth.dir}/docker-config` }, { timeoutMs: 60_000 });
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stdout, /\/dev\/(pts\/\d+|console)/);
  });

  test('kill, restart, rm -f', async () => {
    const id = (await berth.docker(['run', '-d', image, 'sleep', '300'])).trim();
    // PID 1 ignores TERM unless it handles it (as with Docker): the default KILL ends it.
    await berth.docker(['kill', id]);
    assert.equal((await berth.docker(['wait', id], { timeoutMs: 30_000 })).trim(), '137');
    await berth.docker(['restart', '-t', '0', id]);
    assert.equal((await berth.docker(['inspect', '-f', '{{.State.Status}}', id])).trim(), 'running');
    await berth.docker(['rm', '-f', id]);
    assert.deepEqual(await ids(['ps', '-aq']), []);
  });

  test('bad input is a 400 with a clear message, and nothing is created', async () => {
    const spaces = await berth.dockerResult(['create', '--name', 'has space', image]);
    assert.notEqual(spaces.code, 0);
    assert.match(spaces.stderr, /Invalid container name/);
    const mem = await berth.dockerResult(['run', '-d', '--memory-reservation', '-5', image, 'true']);
    assert.notEqual(mem.code, 0);
    const missing = await berth.dockerResult(['create', `${reg.host}/nope:1`]);
    assert.notEqual(missing.code, 0);
    const id = (await berth.docker(['run', '-d', image, 'sleep', '300'])).trim();
    const sig = await berth.dockerResult(['kill', '-s', 'NOPE', id]);
    assert.notEqual(sig.code, 0);
    assert.match(sig.stderr, /Invalid signal/);
    await berth.docker(['rm', '-f', id]);
    assert.deepEqual(await ids(['ps', '-aq']), []);
  });

  test('rmi refuses an image a container uses (409) unless forced away from the container', async () => {
    const id = (await berth.docker(['create', image, 'true'])).trim();
    const refused = await berth.dockerResult(['rmi', image]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /conflict: unable to remove repository reference .* \(must force\) - container [0-9a-f]{12} is using its referenced image/);
    const imageId = (await berth.docker(['image', 'inspect', '-f', '{{.Id}}', image])).trim();
    const byId = await berth.dockerResult(['rmi', imageId]);
    assert.match(byId.stderr, /image is being used by stopped container/);
    assert.match(await berth.docker(['images', '-q']), /[0-9a-f]{12}/, 'the image is still there');
    await berth.docker(['rm', id]);
  });

  test('SizeRw / SizeRootFs: inspect --size and ps -s count the writable layer', async () => {
    const id = (await berth.docker(['run', '-d', image, 'sh', '-c', 'dd if=/dev/zero of=/big bs=1024 count=1024 2>/dev/null; exec sleep 300'])).trim();
    let sizeRw = 0;
    for (let i = 0; i < 50 && sizeRw < 1048576; i++) {
      sizeRw = Number((await berth.docker(['inspect', '--size', '-f', '{{.SizeRw}}', id])).trim());
      if (sizeRw < 1048576) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(sizeRw >= 1048576, `SizeRw ${sizeRw}`);
    const rootFs = Number((await berth.docker(['inspect', '--size', '-f', '{{.SizeRootFs}}', id])).trim());
    assert.ok(rootFs > sizeRw, 'SizeRootFs adds the image');
    assert.match((await berth.docker(['ps', '-s', '--format', '{{.Size}}', '--filter', `id=${id}`])).trim(), /^1\.0\d*MB \(virtual \d/);
    await berth.docker(['rm', '-f', id]);
  });

  test('--privileged gets every capability the host bounding set holds (not a fixed full set); cap-add/cap-drop', async () => {
    const hostBnd = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
    const capEff = async (args: string[]) => {
      const out = await berth.docker(['run', '--rm', '--network', 'none', ...args, image, 'grep', 'CapEff', '/proc/self/status']);
      return BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(out)![1]}`);
    };
    assert.equal(await capEff(['--privileged']), hostBnd, 'privileged = the host bounding set');
    const mounted = await berth.dockerResult(['run', '--rm', '--network', 'none', '--privileged', image, 'sh', '-c', 'mkdir -p /m && mount -t tmpfs none /m && echo mounted']);
    assert.equal(mounted.stdout.trim(), 'mounted', mounted.stderr);
    const CAP_NET_RAW = 13n;
    const CAP_SYS_ADMIN = 21n;
    const def = await capEff([]);
    assert.equal((def >> CAP_SYS_ADMIN) & 1n, 0n, 'no SYS_ADMIN by default');
    assert.equal((def >> CAP_NET_RAW) & 1n, 1n, 'NET_RAW by default (Docker\'s set)');
    assert.equal(((await capEff(['--cap-drop', 'NET_RAW'])) >> CAP_NET_RAW) & 1n, 0n);
    assert.equal(((await capEff(['--cap-add', 'SYS_ADMIN'])) >> CAP_SYS_ADMIN) & 1n, 1n);
  });
});
