import { DomainError } from '@berth/contracts';
import type { ServerResponse } from 'node:http';
import { API_VERSION, resolveApiVersion } from './api-version';
import type { DockerRequest } from './docker-request';
import { statusForCode } from './error-status';
import { sendDockerError } from './send-error';

/**
 * Runs before routing: puts dockerd's identity headers on every response, then strips `/vX.Y` from the
 * URL (so one route serves both forms) and records the requested version on the request.
 */
export function apiVersionMiddleware(serverHeader: string) {
  return (req: DockerRequest, res: ServerResponse, next: () => void): void => {
    res.setHeader('Api-Version', API_VERSION);
    res.setHeader('Ostype', 'linux');
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Server', serverHeader);
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
