import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The request as the gateway's middleware leaves it: express's `query`/`params`/`body`, plus the API
 * version the client asked for. Typed here so nothing depends on express's own typings.
 */
export interface DockerRequest extends IncomingMessage {
  apiVersion: string;
  query: Record<string, unknown>;
  params: Record<string, string>;
  body?: unknown;
  originalUrl: string;
}

export type DockerResponse = ServerResponse;
