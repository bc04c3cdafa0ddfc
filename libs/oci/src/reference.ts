/**
 * Image references parsed exactly as Docker does (github.com/distribution/reference: ParseNormalizedNamed,
 * splitDockerDomain, FamiliarName), plus the registry-side decisions Docker takes from a domain:
 * endpoint host, mirrors, and whether plain HTTP is allowed.
 */
import { isIP } from 'node:net';
import { DomainError, ErrorCode } from '@berth/contracts';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const DEFAULT_REGISTRY_HOST = 'registry-1.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
export const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar of distribution/reference regexp.go, composed the same way.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const namePat = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;
const referenceRegexp = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredIdentifier = /^[a-f0-9]{64}$/;
const anchoredTag = new RegExp(`^${tagPat}$`);
const anchoredDomain = new RegExp(`^${domainAndPort}$`);
const anchoredPath = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);

export interface ImageReference {
  /** Registry domain as written, normalized (`docker.io`, `localhost:5000`, `ghcr.io`). */
  readonly domain: string;
  /** Repository path inside the registry (`library/busybox`, `x`). */
  readonly path: string;
  /** Tag, when written (or defaulted by `withDefaultTag`). */
  readonly tag?: string;
  /** `sha256:<hex>`, when written. */
  readonly digest?: string;
  /** `domain/path`: the fully qualified repository name. */
  readonly name: string;
  /** The name as the CLI shows it: `busybox`, `user/app`, `localhost:5000/x`. */
  readonly familiarName: string;
  /** Familiar name plus `:tag` and/or `@digest`. */
  readonly familiar: string;
  /** Fully qualified: `docker.io/library/busybox:latest`. */
  readonly canonical: string;
}

const invalid = (message: string) => new DomainError(ErrorCode.InvalidArgument, message);

/** Docker's FamiliarName: strips `docker.io/` and, for single-component official images, `library/`. */
export function familiarName(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return `${domain}/${path}`;
  if (path.startsWith(OFFICIAL_REPO_PREFIX) && !path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
    return path.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return path;
}

function build(domain: string, path: string, tag?: string, digest?: string): ImageReference {
  const name = `${domain}/${path}`;
  const suffix = (tag ? `:${tag}` : '') + (digest ? `@${digest}` : '');
  const fam = familiarName(domain, path);
  return {
    domain,
    path,
    ...(tag ? { tag } : {}),
    ...(digest ? { digest } : {}),
    name,
    familiarName: fam,
    familiar: fam + suffix,
    canonical: name + suffix,
  };
}

/** splitDockerDomain from distribution/reference/normalize.go. */
function splitDockerDomain(name: string): [string, string] {
  let domain: string;
  let remainder: string;
  const i = name.indexOf('/');
  if (
    i === -1 ||
    (!/[.:]/.test(name.slice(0, i)) && name.slice(0, i) !== 'localhost' && name.slice(0, i).toLowerCase() === name.slice(0, i))
  ) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = name.slice(0, i);
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/** Validates a digest the way opencontainers/go-digest does for the algorithms we know. */
export function validateDigest(digest: string): string {
  const i = digest.indexOf(':');
  if (i <= 0 || i === digest.length - 1) throw invalid('invalid checksum digest format');
  const alg = digest.slice(0, i);
  const hex = digest.slice(i + 1);
  const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  const want = lengths[alg];
  if (want === undefined) {
    if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(alg)) throw invalid('invalid checksum digest format');
    throw invalid('unsupported digest algorithm');
  }
  if (hex.length !== want) throw invalid('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw invalid('invalid checksum digest format');
  return digest;
}

/**
 * ParseNormalizedNamed: `busybox` → docker.io/library/busybox, no tag added. Throws DomainError
 * (InvalidArgument) with Docker's wording.
 */
export function parseReference(input: string): ImageReference {
  if (anchoredIdentifier.test(input)) {
    throw invalid(`invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(input);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw invalid(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  const full = `${domain}/${remainder}`;
  const m = referenceRegexp.exec(full);
  if (!m) {
    if (full === '' || input === '') throw invalid('invalid reference format');
    if (referenceRegexp.test(full.toLowerCase())) {
      throw invalid('repository name must be lowercase');
    }
    throw invalid('invalid reference format');
  }
  const fullName = m[1];
  if (fullName.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const tag = m[2] || undefined;
  const digest = m[3] ? validateDigest(m[3]) : undefined;
  // The name's own domain/path split: the regexp guarantees fullName = domain + '/' + path here.
  const path = fullName.slice(domain.length + 1);
  return build(domain, path, tag, digest);
}

/** ParseNormalizedNamed + TagNameOnly: adds `latest` when neither tag nor digest was given. */
export function parseReferenceWithDefaultTag(input: string): ImageReference {
  return withDefaultTag(parseReference(input));
}

export function withDefaultTag(ref: ImageReference): ImageReference {
  if (ref.tag || ref.digest) return ref;
  return build(ref.domain, ref.path, DEFAULT_TAG);
}

/** A new reference to the same repository with another tag (digest dropped). */
export function withTag(ref: ImageReference, tag: string): ImageReference {
  if (!anchoredTag.test(tag)) throw invalid('invalid reference format');
  return build(ref.domain, ref.path, tag);
}

/** A new reference to the same repository by digest (tag dropped). */
export function withDigest(ref: ImageReference, digest: string): ImageReference {
  return build(ref.domain, ref.path, undefined, validateDigest(digest));
}

/** Repository reference without tag or digest. */
export function repositoryOf(ref: ImageReference): ImageReference {
  return build(ref.domain, ref.path);
}

/** Builds a reference from parts already split (e.g. the `fromImage` + `tag` query of POST /images/create). */
export function referenceFromParts(domain: string, path: string, tag?: string, digest?: string): ImageReference {
  if (!anchoredDomain.test(domain) || !anchoredPath.test(path)) throw invalid('invalid reference format');
  if (tag !== undefined && !anchoredTag.test(tag)) throw invalid('invalid reference format');
  if (digest !== undefined) validateDigest(digest);
  return build(domain === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : domain, path, tag, digest);
}

export function isValidTag(tag: string): boolean {
  return anchoredTag.test(tag);
}

/** A 64-hex string or `sha256:<64 hex>` is an image ID, not a name (ParseAnyReference). */
export function isImageIdLike(input: string): boolean {
  return anchoredIdentifier.test(input) || /^sha256:[a-f0-9]{64}$/.test(input);
}

// ---------------------------------------------------------------------------------------------------
// Registry endpoints

export interface RegistryEndpoint {
  /** Host[:port] to connect to (docker.io → registry-1.docker.io). */
  readonly host: string;
  /** True when plain HTTP may be used (after HTTPS fails) and TLS errors are tolerated. */
  readonly insecure: boolean;
  /** True for a configured mirror (a miss there falls back to the next endpoint). */
  readonly mirror: boolean;
}

export interface RegistryPolicy {
  /** `insecure-registries` from berth.json: host[:port] entries or CIDRs. */
  readonly insecureRegistries?: readonly string[];
  /** `registry-mirrors` (URLs) used for docker.io only. */
  readonly mirrors?: readonly string[];
}

/** Parses `10.0.0.0/8` or `fd00::/8` into a matcher; undefined when `entry` is not a CIDR. */
function cidrMatcher(entry: string): ((ip: string) => boolean) | undefined {
  const slash = entry.indexOf('/');
  if (slash < 0) return undefined;
  const base = entry.slice(0, slash);
  const bits = Number(entry.slice(slash + 1));
  const fam = isIP(base);
  if (!fam || !Number.isInteger(bits)) return undefined;
  const baseBytes = ipBytes(base);
  return (ip: string) => {
    if (isIP(ip) !== fam) return false;
    const b = ipBytes(ip);
    for (let i = 0; i < bits; i++) {
      const byte = i >> 3;
      const mask = 0x80 >> (i & 7);
      if ((b[byte] & mask) !== (baseBytes[byte] & mask)) return false;
    }
    return true;
  };
}

function ipBytes(ip: string): number[] {
  if (isIP(ip) === 4) return ip.split('.').map(Number);
  // Expand IPv6 (including an embedded IPv4 tail).
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    s = s.slice(0, -v4[1].length) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = parseInt(g || '0', 16);
    return [n >> 8, n & 0xff];
  });
}

/** Splits `host:port`, `[v6]:port`, `host`. */
export function splitHostPort(hostPort: string): { hostname: string; port?: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (v6) return { hostname: v6[1], ...(v6[2] ? { port: v6[2] } : {}) };
  const i = hostPort.lastIndexOf(':');
  if (i > 0 && /^\d+$/.test(hostPort.slice(i + 1))) return { hostname: hostPort.slice(0, i), port: hostPort.slice(i + 1) };
  return { hostname: hostPort };
}

const DEFAULT_INSECURE_CIDRS = ['127.0.0.0/8', '::1/128'];

/**
 * Docker's isSecureIndex without DNS: docker.io is always secure; an exact host[:port] match in
 * insecure-registries, localhost, loopback addresses, and literal IPs inside a configured CIDR are
 * insecure. (Docker also resolves names and matches their addresses against CIDRs; a name that only
 * resolves into a CIDR must be listed by name here.)
 */
export function isInsecureRegistry(domain: string, policy: RegistryPolicy = {}): boolean {
  if (domain === DEFAULT_DOMAIN || domain === DEFAULT_REGISTRY_HOST) return false;
  const list = policy.insecureRegistries ?? [];
  const { hostname } = splitHostPort(domain);
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  for (const entry of list) {
    const e = entry.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    if (e === domain || e === hostname) return true;
  }
  if (isIP(hostname)) {
    for (const cidr of [...DEFAULT_INSECURE_CIDRS, ...list]) {
      const m = cidrMatcher(cidr);
      if (m?.(hostname)) return true;
    }
  }
  return false;
}

/** Endpoints to try for a domain, in order: mirrors (docker.io only) then the registry itself. */
export function registryEndpoints(domain: string, policy: RegistryPolicy = {}): RegistryEndpoint[] {
  const out: RegistryEndpoint[] = [];
  if (domain === DEFAULT_DOMAIN) {
    for (const m of policy.mirrors ?? []) {
      const u = new URL(m);
      out.push({ host: u.host, insecure: u.protocol === 'http:' || isInsecureRegistry(u.host, policy), mirror: true });
    }
    out.push({ host: DEFAULT_REGISTRY_HOST, insecure: false, mirror: false });
    return out;
  }
  out.push({ host: domain, insecure: isInsecureRegistry(domain, policy), mirror: false });
  return out;
}

/**
 * Normalizes the `serveraddress` of POST /auth or X-Registry-Auth into a registry domain, as Docker's
 * ConvertToHostname + IndexName do: `https://index.docker.io/v1/` → `docker.io`.
 */
export function normalizeServerAddress(address: string | undefined): string {
  if (!address) return DEFAULT_DOMAIN;
  let s = address.trim();
  s = s.replace(/^https?:\/\//, '');
  s = s.split('/')[0];
  if (s === LEGACY_DEFAULT_DOMAIN || s === DEFAULT_REGISTRY_HOST || s === DEFAULT_DOMAIN) return DEFAULT_DOMAIN;
  return s;
}
