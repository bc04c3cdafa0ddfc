import type { ServerResponse } from 'node:http';
import type { DockerRequest } from './docker-request';

/** A line-oriented writer over a streaming response that respects back-pressure and notices hang-ups. */
export function responseSink(req: DockerRequest, res: ServerResponse) {
  let closed = false;
  const closeListeners: (() => void)[] = [];
  const onClose = () => {
    if (closed) return;
    closed = true;
    for (const l of closeListeners.splice(0)) l();
  };
  res.on('close', onClose);
  req.on('aborted', onClose);
  return {
    get closed() {
      return closed || res.destroyed;
    },
    onClose(listener: () => void) {
      if (closed) listener();
      else closeListeners.push(listener);
    },
    write(line: string): Promise<void> {
      if (closed || res.destroyed) return Promise.resolve();
      if (res.write(line)) return Promise.resolve();
      return drainOrClose(res);
    },
  };
}

/** Resolves when the response can take more (drain) or is gone (close). */
export function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
