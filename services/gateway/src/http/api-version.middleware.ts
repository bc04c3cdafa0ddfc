import { DomainError } from '@berth/contracts';
import type { ServerResponse } from 'node:http';
import { API_VERSION, resolveApiVersion } from './api-version';
import type { DockerRequest } from './docker-request';
import { statusForCode } from './error-status';
import { sendDockerError } from './send-error';

/** dockerd's identity headers, in the order every response carries them. */
export const identityHeaders = (serverHeader: string): ReadonlyArray<readonly [string, string]> => [
  ['Api-Version', API_VERSION],
  ['Ostype', 'linux'],
  ['Docker-Experimental', 'false'],
  ['Server', serverHeader],
];

/**
 * Runs before routing: puts dockerd's identity headers on every response, then strips `/vX.Y` from the
 * URL (so one route serves both forms) and records the requested version on the request.
 */
export function apiVersionMiddleware(serverHeader: string) {
  const headers = identityHeaders(serverHeader);
  return (req: DockerRequest, res: ServerResponse, next: () => void): void => {
    for (const [name, value] of headers) res.setHeader(name, value);
    try {
      const { version, url } = resolveApiVersion(req.url ?? '/');
      req.apiVersion = version;
      req.url = url;
    } catch (e) {
      const error = DomainError.from(e);
      sendDockerError(res, statusForCode(error.code), error.message);
      return;
    }
    next();
  };
}
