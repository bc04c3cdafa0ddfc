import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { resolveApiVersion } from '../http/api-version';
import { identityHeaders } from '../http/api-version.middleware';
import { parseBool, parseFilters, parseInteger } from '../http/query-params';
import { type ContainersService, listKey } from './containers.service';

const PATH = /^(?:\/v[0-9.]+)?\/containers\/json(?:\?|$)/;
/** distinct query strings remembered (each maps to its list cache key) */
const QUERIES = 64;

/**
 * `GET /containers/json` answered before express and Nest when the body is cached and both generations
 * are pushed (ContainersService.cachedListBody): one lookup and one write, no routing, no I/O.
 * Everything else (a miss, `size=1`, a bad version or query, another route) returns false and takes the
 * ordinary path, which answers it as before; the response here is byte for byte the one the controller
 * writes (identity headers of apiVersionMiddleware, then Content-Type and Content-Length).
 */
export function containerListFastPath(containers: ContainersService, serverHeader: string) {
  const headers = identityHeaders(serverHeader);
  /** query string -> list cache key, or null when the ordinary path must answer (size=1, invalid) */
  const keys = new Map<string, string | null>();

  const keyOf = (query: string): string | null => {
    let key = keys.get(query);
    if (key !== undefined) return key;
    try {
      const q = parseQuery(query);
      key = parseBool(q.size) ? null : listKey(parseBool(q.all), parseInteger(q.limit, 'limit'), parseFilters(q.filters));
    } catch {
      key = null;
    }
    if (keys.size >= QUERIES) keys.delete(keys.keys().next().value!);
    keys.set(query, key);
    return key;
  };

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url;
    // A '#' makes express's URL parsing differ from the split below: leave such URLs to it.
    if (req.method !== 'GET' || url === undefined || !PATH.test(url) || url.includes('#')) return false;
    try {
      resolveApiVersion(url);
    } catch {
      return false;
    }
    const at = url.indexOf('?');
    const key = keyOf(at < 0 ? '' : url.slice(at + 1));
    const body = key === null ? undefined : containers.cachedListBody(key);
    if (!body) return false;
    res.statusCode = 200;
    for (const [name, value] of headers) res.setHeader(name, value);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    res.end(body);
    return true;
  };
}
