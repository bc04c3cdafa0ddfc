/**
 * dockerode (the SDK under testcontainers-node) against a real Berth: create/start/wait/logs, follow
 * logs, exec started WITHOUT an Upgrade header (the connection is taken over anyway, and the exit code
 * is final before the stream ends), exec with stdin, a stopped container's execs, inspect, remove.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex, Readable } from 'node:stream';
import { randomSuffix } from '@berth/testing';
import { type RunningBerth } from './harness';
import { withBerthAndBusybox } from './busybox';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Docker = require('dockerode') as new (opts: { socketPath: string }) => DockerClient;

interface ExecLike {
  id: string;
  start(opts: Record<string, unknown>): Promise<Duplex>;
  inspect(): Promise<{ ExitCode: number | null; Running: boolean; ProcessConfig: { entrypoint: string } }>;
}
interface ContainerLike {
  id: string;
  start(): Promise<unknown>;
  wait(): Promise<{ StatusCode: number }>;
  logs(opts: Record<string, unknown>): Promise<Buffer | Readable>;
  exec(opts: Record<string, unknown>): Promise<ExecLike>;
  inspect(): Promise<{ State: { Running: boolean; ExitCode: number }; Name: string; ExecIDs: string[] | null }>;
  stop(opts?: Record<string, unknown>): Promise<unknown>;
  remove(opts?: Record<string, unknown>): Promise<unknown>;
}
interface DockerClient {
  createContainer(opts: Record<string, unknown>): Promise<ContainerLike>;
  getContainer(id: string): ContainerLike;
  listContainers(opts?: Record<string, unknown>): Promise<{ Id: string; Names: string[]; State: string }[]>;
  ping(): Promise<unknown>;
}

/** stdcopy frames -> {stdout, stderr} */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i]!;
    const len = buf.readUInt32BE(i + 4);
    const payload = buf.subarray(i + 8, i + 8 + len).toString();
    if (kind === 2) stderr += payload;
    else stdout += payload;
    i += 8 + len;
  }
  return { stdout, stderr };
}

const collect = (s: Readable) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });

let berth: RunningBerth;
let image: string;
let docker: DockerClient;

describe('dockerode', { timeout: 600_000 }, () => {
  withBerthAndBusybox((f) => {
    ({ berth, image } = f);
    docker = new Docker({ socketPath: berth.socket });
  });

  test('create, start, wait, logs (buffered and followed), remove', async () => {
    await docker.ping();
    const name = `dode-${randomSuffix()}`;
    const c = await docker.createContainer({ Image: image, name, Cmd: ['sh', '-c', 'echo hello; echo oops >&2; exit 3'] });
    assert.match(c.id, /^[0-9a-f]{64}$/);
    await c.start();
    assert.equal((await c.wait()).StatusCode, 3);
    const logs = await c.logs({ stdout: true, stderr: true });
    assert.ok(Buffer.isBuffer(logs));
    assert.deepEqual(demux(logs as Buffer), { stdout: 'hello\n', stderr: 'oops\n' });
    const info = await c.inspect();
    assert.equal(info.State.ExitCode, 3);
    assert.equal(info.Name, `/${name}`);

    const f = await docker.createContainer({ Image: image, Cmd: ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.2; done'] });
    await f.start();
    const stream = (await f.logs({ follow: true, stdout: true, stderr: true, since: 0 })) as Readable;
    const followed = demux(await collect(stream));
    assert.equal(followed.stdout, 'line1\nline2\nline3\n');
    await c.remove();
    await f.remove({ force: true });
    assert.deepEqual(await docker.listContainers({ all: true }), []);
  });

  test('exec started without an Upgrade header: output, then a final exit code', async () => {
    const c = await docker.createContainer({ Image: image, Cmd: ['sleep', '300'] });
    await c.start();
    for (let i = 0; i < 5; i++) {
      const exec = await c.exec({ Cmd: ['sh', '-c', `echo out-${i}; echo err-${i} >&2; exit ${i + 4}`], AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({});
      const out = demux(await collect(stream));
      assert.deepEqual(out, { stdout: `out-${i}\n`, stderr: `err-${i}\n` });
      const x = await exec.inspect();
      assert.equal(x.Running, false);
      assert.equal(x.ExitCode, i + 4);
      if (i === 0) {
        // a second start (not this gateway's fresh exec any more): refused as dockerd refuses it, inside
        // the taken-over stream (one stdout frame, then the end), not as an HTTP error
        const again = demux(await collect(await exec.start({})));
        assert.deepEqual(again, { stdout: `Error: Exec command ${exec.id} has already run\r\n`, stderr: '' });
        // with a TTY named in the start: the same words, unframed
        assert.equal((await collect(await exec.start({ Tty: true }))).toString(), `Error: Exec command ${exec.id} has already run\r\n`);
        // a detached start: the error as the answer (409)
        await assert.rejects(exec.start({ Detach: true }), (e: Error & { statusCode?: number }) => e.statusCode === 409 && /has already run/.test(e.message));
      }
    }
    // with stdin (testcontainers' form: hijack + stdin)
    const cat = await c.exec({ Cmd: ['cat'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const duplex = await cat.start({ hijack: true, stdin: true });
    const got = collect(duplex);
    duplex.end('piped-in\n');
    assert.equal(demux(await got).stdout, 'piped-in\n');
    assert.equal((await cat.inspect()).ExitCode, 0);
    // detached; started again while it runs: "is already running", in the stream
    const bg = await c.exec({ Cmd: ['sh', '-c', 'sleep 1; exit 9'], AttachStdout: true, AttachStderr: true });
    await bg.start({ Detach: true });
    assert.deepEqual(demux(await collect(await bg.start({}))), { stdout: `Error: Exec command ${bg.id} is already running\r\n`, stderr: '' });
    for (let i = 0; i < 100 && (await bg.inspect()).ExitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await bg.inspect()).ExitCode, 9);
    // the container stops: as with dockerd, an exec never started goes (404), one still running is killed
    const idle = await c.exec({ Cmd: ['true'] });
    const long = await c.exec({ Cmd: ['sleep', '300'] });
    await long.start({ Detach: true });
    await c.stop({ t: 0 });
    const gone = (e: Error & { statusCode?: number }) => e.statusCode === 404 && e.message.includes(`No such exec instance: ${idle.id}`);
    await assert.rejects(idle.inspect(), gone);
    await assert.rejects(idle.start({ Detach: true }), gone);
    assert.deepEqual([(await long.inspect()).Running, (await long.inspect()).ExitCode], [false, 137]);
    assert.equal((await c.inspect()).ExecIDs, null);
    await c.remove({ force: true });
  });
});
