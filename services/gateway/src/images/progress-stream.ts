import type { BerthConfig } from '@berth/config';
import { DomainError, type ProgressMessage, progressStreamKey } from '@berth/contracts';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { DockerRequest } from '../http/docker-request';
import { responseSink } from '../http/response-sink';

/**
 * Runs a long image operation and streams its progress as Docker's newline-delimited JSON.
 *
 *   gateway ──RPC(progressKey)──▶ images service ──job──▶ executor
 *      ▲                              │  ◀── BullMQ job progress ──┘
 *      └──── XREAD <ns>:progress:<key> ◀── XADD (Docker messages)
 *
 * Headers go out with the first message, so an error before any progress (bad reference, manifest
 * unknown, auth) keeps its HTTP status; a later error becomes an `errorDetail` line.
 */
export async function streamProgress<T>(
  config: BerthConfig,
  req: DockerRequest,
  res: ServerResponse,
  start: (progressKey: string) => Promise<T>,
  finish?: (result: T) => ProgressMessage[],
): Promise<void> {
  const key = randomUUID();
  const stream = progressStreamKey(config.namespace, key);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, connectionName: 'berth-gateway-progress' });
  redis.on('error', () => undefined);
  const sink = responseSink(req, res);
  let done = false;
  let result: T | undefined;
  let error: unknown;
  const call = start(key).then(
    (r) => {
      result = r;
    },
    (e: unknown) => {
      error = e;
    },
  );
  void call.finally(() => {
    done = true;
  });
  const begin = () => {
    if (res.headersSent) return;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
  };
  const write = async (m: ProgressMessage) => {
    begin();
    await sink.write(`${JSON.stringify(m)}\r\n`);
  };
  let lastId = '0';
  try {
    for (;;) {
      const finished = done;
      const reply = (await redis.xread('COUNT', 1000, 'BLOCK', finished ? 1 : 50, 'STREAMS', stream, lastId)) as
        | Array<[string, Array<[string, string[]]>]>
        | null;
      const entries = reply?.[0]?.[1] ?? [];
      for (const [id, fields] of entries) {
        lastId = id;
        const raw = fields[1];
        if (!raw) continue;
        const m = JSON.parse(raw) as ProgressMessage;
        if ('end' in m) continue;
        if (!sink.closed) await write(m);
      }
      if (finished && entries.length === 0) break;
    }
    await call;
    if (error !== undefined) {
      const e = DomainError.from(error);
      if (!res.headersSent) throw e;
      await write({ errorDetail: { message: e.message }, error: e.message } as unknown as ProgressMessage);
    } else if (finish) {
      for (const m of finish(result as T)) await write(m);
    }
    begin();
    if (!res.writableEnded) res.end();
  } finally {
    await redis.del(stream).catch(() => undefined);
    redis.disconnect();
  }
}
