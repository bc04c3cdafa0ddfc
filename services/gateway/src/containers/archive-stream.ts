/**
 * Client side of the executor's stream socket (protocol: libs/contracts/src/executor.ts, "Executor
 * stream socket"): one JSON request line out, one JSON header line back, then raw bytes.
 */
import { executorStreamSocket, type ExecutorStreamHeader, type ExecutorStreamRequest } from '@berth/contracts';
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { readFirstLine } from '@berth/messaging';

const MAX_LINE = 16 * 1024 * 1024; // a changes list can be long

/** The executor's header line; `rest` is what followed it. */
export const readLine = (stream: Readable, limit = MAX_LINE) => readFirstLine(stream, limit);

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
