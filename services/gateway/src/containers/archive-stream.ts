/**
 * Client side of the executor's stream socket (protocol: libs/contracts/src/executor.ts, "Executor
 * stream socket"): one JSON request line out, one JSON header line back, then raw bytes.
 */
import { executorStreamSocket, type ExecutorStreamHeader, type ExecutorStreamRequest } from '@berth/contracts';
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';

const MAX_LINE = 16 * 1024 * 1024; // a changes list can be long

/** The first `\n`-terminated line; the stream is paused after it, `rest` is what followed. */
export function readLine(stream: Readable, limit = MAX_LINE): Promise<{ line: string | null; rest: Buffer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (line: string | null, rest: Buffer) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onEnd);
      stream.off('close', onEnd);
      stream.pause();
      resolve({ line, rest });
    };
    const onData = (chunk: Buffer) => {
      const nl = chunk.indexOf(10);
      if (nl >= 0) {
        chunks.push(chunk.subarray(0, nl));
        done(Buffer.concat(chunks).toString('utf8'), chunk.subarray(nl + 1));
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) done(null, Buffer.alloc(0));
    };
    const onEnd = () => done(null, Buffer.alloc(0));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onEnd);
    stream.once('close', onEnd);
    stream.resume(); // a stream paused by an earlier read stays paused until told
  });
}

export function parseHeader(line: string | null): ExecutorStreamHeader {
  if (line === null) return { ok: false, code: 'internal', message: 'the executor closed the stream without an answer' };
  try {
    return JSON.parse(line) as ExecutorStreamHeader;
  } catch {
    return { ok: false, code: 'internal', message: `the executor answered ${line.slice(0, 200)}` };
  }
}

export interface ExecutorStream {
  readonly socket: Socket;
  readonly header: ExecutorStreamHeader;
  /** bytes after the header line (the start of a tar, or put's result line) */
  readonly rest: Buffer;
}

/**
 * Connects, sends the request and, unless `beforeHeader` is given, waits for the header.
 * `beforeHeader(socket)` runs right after the request line (put streams its tar from there).
 */
export function openExecutorStream(
  execRoot: string,
  request: ExecutorStreamRequest,
  beforeHeader?: (socket: Socket) => void,
): Promise<ExecutorStream> {
  return new Promise((resolve, reject) => {
    const socket = connect(executorStreamSocket(execRoot));
    socket.once('error', (e) => reject(new Error(`executor stream socket: ${e.message}`)));
    socket.once('connect', () => {
      socket.write(`${JSON.stringify(request)}\n`);
      beforeHeader?.(socket);
      void readLine(socket).then(({ line, rest }) => {
        socket.on('error', () => undefined);
        resolve({ socket, header: parseHeader(line), rest });
      });
    });
  });
}
