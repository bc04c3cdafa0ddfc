import type { ServerResponse } from 'node:http';

/**
 * Writes Docker's error body `{"message": "..."}`. 304 carries no body. When a stream has already
 * started there is no status left to send, so the connection is ended.
 */
export function sendDockerError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (status === 304) {
    res.writeHead(304);
    res.end();
    return;
  }
  const body = `${JSON.stringify({ message })}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
