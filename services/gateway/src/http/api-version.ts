import { invalid } from '@berth/contracts';

/** The API level Berth speaks (CLI 28.2.2's level) and the oldest it accepts, as dockerd reports them. */
export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';

/** Numeric, part-by-part comparison ("1.9" < "1.10"), as moby's `versions.compare`. */
export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.parseInt(pa[i] ?? '0', 10) || 0;
    const y = Number.parseInt(pb[i] ?? '0', 10) || 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export const apiVersionBelow = (version: string, than: string) => compareApiVersions(version, than) < 0;

export interface VersionedPath {
  /** The version the client asked for (`API_VERSION` when the path has no prefix). */
  readonly version: string;
  /** The URL without the `/vX.Y` prefix, query string kept. */
  readonly url: string;
}

const VERSION_PREFIX = /^\/v([0-9.]+)(?=\/|\?|$)/;

/**
 * Splits `/v1.44/containers/json?all=1` into its version and the unversioned URL, and refuses versions
 * outside [MIN_API_VERSION, API_VERSION] with dockerd's wording.
 */
export function resolveApiVersion(url: string): VersionedPath {
  const match = VERSION_PREFIX.exec(url);
  if (!match) return { version: API_VERSION, url };
  const version = match[1];
  const rest = url.slice(match[0].length);
  if (compareApiVersions(version, MIN_API_VERSION) < 0) {
    throw invalid(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  if (compareApiVersions(version, API_VERSION) > 0) {
    throw invalid(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  return { version, url: rest.startsWith('/') ? rest : `/${rest}` };
}
