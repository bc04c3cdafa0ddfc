import type { Readable } from 'node:stream';

/**
 * Reads up to the first `\n` of a byte stream (the executor stream socket's JSON header line); the
 * stream is paused after it, with whatever followed returned as `rest`. `line` is null when the stream
 * ends first or the line exceeds `limit` bytes.
 */
export function readFirstLine(stream: Readable, limit: number): Promise<{ line: string | null; rest: Buffer }> {
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
