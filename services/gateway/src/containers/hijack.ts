import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Hijacked streams (attach, exec start): the client's socket is bridged to the shim's attach.sock on
 * this node.
 *
 *   client ──HTTP──▶ gateway: 101 UPGRADED (or 200 + raw stream without Upgrade, as dockerode does)
 *   gateway ──unix──▶ attach.sock: {"stdin","stdout","stderr"}\n  ◀── {"ok":true}\n  then bytes
 *   shim → client: stdcopy frames (no TTY) or raw bytes (TTY); client → shim: stdin
 *   client half-close → shim half-close (stdin-once closes the container's stdin); output keeps flowing
 *   shim closes (exit) → `beforeClose` (exec: wait until the exit code is recorded) → client closed
 */
export interface ShimAttachOptions {
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** Connects and registers; resolves with the socket and whatever output followed the ok line. */
export function connectShim(path: string, opts: ShimAttachOptions): Promise<{ shim: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const shim = connect(path);
    let buf = Buffer.alloc(0);
    const fail = (e: Error) => {
      shim.destroy();
      reject(e);
    };
    shim.once('error', fail);
    shim.once('connect', () => shim.write(`${JSON.stringify(opts)}\n`));
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      shim.off('data', onData);
      shim.off('error', fail);
      shim.pause();
      let reply: { ok?: boolean; error?: string };
      try {
        reply = JSON.parse(buf.subarray(0, nl).toString('utf8')) as { ok?: boolean; error?: string };
      } catch {
        fail(new Error('attach: malformed reply from the shim'));
        return;
      }
      if (!reply.ok) {
        fail(new Error(`attach: ${reply.error ?? 'refused'}`));
        return;
      }
      resolve({ shim, rest: buf.subarray(nl + 1) });
    };
    shim.on('data', onData);
    shim.once('end', () => fail(new Error('attach: the container is gone')));
  });
}

/** Docker's `--detach-keys` syntax: `ctrl-p,ctrl-q`, `a,ctrl-@`… -> bytes. */
export function parseDetachKeys(spec: string | undefined): Buffer | null {
  const text = spec === undefined || spec === '' ? 'ctrl-p,ctrl-q' : spec;
  const out: number[] = [];
  for (const key of text.split(',')) {
    const k = key.trim().toLowerCase();
    if (k.length === 1) out.push(k.charCodeAt(0));
    else if (/^ctrl-[a-z@[\\\]^_]$/.test(k)) {
      const c = k[5]!;
      out.push(c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 }[c]!);
    } else return null;
  }
  return Buffer.from(out);
}

export interface BridgeOptions {
  readonly tty: boolean;
  readonly stdin: boolean;
  /** null: no detach keys */
  readonly detachKeys: Buffer | null;
  /** bytes of the client's stream already read past the HTTP request */
  readonly head?: Buffer;
  /** runs after the shim closed and before the client is closed */
  readonly beforeClose?: () => Promise<void>;
  readonly onStdinEnd?: () => void;
}

/** The raw HTTP head of a hijacked response. */
export function hijackHead(upgrade: boolean, tty: boolean, extra: Record<string, string> = {}): string {
  const type = tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  const lines = upgrade
    ? ['HTTP/1.1 101 UPGRADED', `Content-Type: ${type}`, 'Connection: Upgrade', 'Upgrade: tcp']
    : ['HTTP/1.1 200 OK', `Content-Type: ${type}`];
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * An error told inside a hijacked stream, as dockerd writes it: `<message>\r\n`, as one stdout frame
 * when the stream is multiplexed (no TTY), as is with one.
 */
export function streamError(message: string, tty: boolean): Buffer {
  const text = Buffer.from(`${message}\r\n`);
  if (tty) return text;
  const head = Buffer.alloc(8);
  head[0] = 1;
  head.writeUInt32BE(text.length, 4);
  return Buffer.concat([head, text]);
}

/** Pipes both ways until the shim closes (then the client) or the client goes away (then the shim). */
export function bridge(client: Duplex, shim: Socket, rest: Buffer, opts: BridgeOptions): Promise<void> {
  return new Promise((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      resolve();
    };
    if (rest.length) client.write(rest);
    shim.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) {
        shim.pause();
        client.once('drain', () => shim.resume());
      }
    });
    shim.resume();
    let matched = 0;
    const keys = opts.detachKeys;
    const forward = (chunk: Buffer) => {
      if (!opts.stdin) return;
      if (keys && keys.length && opts.tty) {
        // Hold back a partial detach sequence; drop it if it completes.
        const out: number[] = [];
        for (const byte of chunk) {
          if (byte === keys[matched]) {
            matched++;
            if (matched === keys.length) {
              shim.destroy();
              client.end();
              finish();
              return;
            }
            continue;
          }
          if (matched) out.push(...keys.subarray(0, matched));
          matched = 0;
          if (byte === keys[0]) matched = 1;
          else out.push(byte);
        }
        if (out.length && !shim.destroyed) shim.write(Buffer.from(out));
        return;
      }
      if (!shim.destroyed) shim.write(chunk);
    };
    if (opts.head?.length) forward(opts.head);
    client.on('data', forward);
    client.on('end', () => {
      // Half-close: keep streaming output; the shim closes stdin (stdin-once) or stops reading it.
      opts.onStdinEnd?.();
      if (!shim.destroyed) shim.end();
    });
    client.on('error', () => {
      shim.destroy();
      finish();
    });
    client.on('close', () => {
      shim.destroy();
      finish();
    });
    const closeClient = () => {
      const done = () => {
        client.end();
        // Give the kernel a moment to flush, then make sure the fd goes.
        setTimeout(() => client.destroy(), 2000).unref();
        finish();
      };
      if (opts.beforeClose) opts.beforeClose().then(done, done);
      else done();
    };
    shim.on('end', closeClient);
    shim.on('error', closeClient);
  });
}

/** Reads a JSON body from an upgraded socket (exec start sends `{"Detach":false,"Tty":true}`). */
export async function readUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: unknown; rest: Buffer }> {
  const length = Number(req.headers['content-length'] ?? 0);
  let buf = head;
  if (length > 0) {
    while (buf.length < length) {
      const chunk = await new Promise<Buffer | null>((resolve) => {
        const onData = (c: Buffer) => {
          cleanup();
          resolve(c);
        };
        const onEnd = () => {
          cleanup();
          resolve(null);
        };
        const cleanup = () => {
          socket.off('data', onData);
          socket.off('end', onEnd);
          socket.pause();
        };
        socket.on('data', onData);
        socket.on('end', onEnd);
        socket.resume();
      });
      if (!chunk) break;
      buf = Buffer.concat([buf, chunk]);
    }
  }
  const text = buf.subarray(0, length).toString('utf8');
  let body: unknown;
  try {
    body = text.trim() ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { body, rest: buf.subarray(length) };
}
