/**
 * A Registry v2 / OCI distribution client on undici.
 *
 *   request ──> 401 + WWW-Authenticate ──> Basic: retry with credentials
 *                                      └─> Bearer: GET realm?service&scope… (Basic creds, or POST a
 *                                          refresh token) → token cached per scope until expiry → retry once
 *
 * Every manifest and blob is verified against its digest before anyone sees it as valid: manifests
 * in memory, blobs through the ContentStore (which only publishes a verified file).
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { Agent, Dispatcher, request } from 'undici';
import { DomainError, ErrorCode } from '@berth/contracts';
import { basicAuthorization, Challenge, hasCredentials, parseChallenges, RegistryCredentials } from './auth';
import { ContentStore, DigestMismatchError } from './content-store';
import {
  Descriptor,
  hostPlatform,
  ImageConfig,
  ImageIndex,
  ImageManifest,
  MANIFEST_ACCEPT,
  parseManifest,
  Platform,
  selectPlatform,
  sha256,
} from './manifest';
import { familiarName, ImageReference, normalizeServerAddress, RegistryEndpoint, registryEndpoints, RegistryPolicy } from './reference';

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface RegistryClientOptions extends RegistryPolicy {
  userAgent?: string;
  /** Overrides the connection pools (tests inject proxies this way). */
  dispatcher?: Dispatcher;
  /** Milliseconds without response headers / body data before a request fails (default 60 s / 120 s). */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Token lifetime when the token server does not say (spec default 60 s). */
  defaultTokenTtlSeconds?: number;
}

export type BlobAction = 'exists' | 'mounted' | 'uploaded' | 'downloaded' | 'cached';

export interface Progress {
  digest: string;
  action: 'download' | 'upload' | BlobAction;
  current: number;
  total: number;
}
export type ProgressFn = (p: Progress) => void;

/** An error the registry reported ({"errors":[{code,message}]}) or an unexpected status. */
export class RegistryError extends DomainError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: number,
    readonly registryCodes: string[] = [],
  ) {
    super(code, message);
    this.name = 'RegistryError';
  }
}

export interface PingResult {
  /** Base URL that answered, e.g. http://127.0.0.1:5000 */
  baseUrl: string;
  /** Auth challenge, when /v2/ answered 401. */
  challenge?: Challenge;
}

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  kind: 'manifest' | 'index';
  manifest?: ImageManifest;
  index?: ImageIndex;
}

export interface ResolvedImage {
  /** Digest of what the reference names (index or manifest): Docker's RepoDigest. */
  repoDigest: string;
  index?: FetchedManifest;
  manifest: FetchedManifest & { manifest: ImageManifest };
  /** Platform entry chosen from the index, when there was one. */
  platform?: Platform;
}

export interface PulledImage extends ResolvedImage {
  config: ImageConfig;
  /** sha256 of the config JSON: the image ID. */
  configDigest: string;
  layers: Array<Descriptor & { action: BlobAction }>;
}

interface Endpoint {
  host: string;
  insecure: boolean;
  mirror: boolean;
  baseUrl?: string;
  challenge?: Challenge | null;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

interface SendOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  scopes?: string[];
  /** Follow redirects (GET/HEAD), dropping Authorization when the host changes. */
  follow?: boolean;
}

type Response = Dispatcher.ResponseData;

const headerValue = (h: Response['headers'], name: string): string | undefined => {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

export class RegistryClient {
  private readonly secureAgent: Dispatcher;
  private readonly insecureAgent: Dispatcher;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly userAgent: string;

  constructor(readonly options: RegistryClientOptions = {}) {
    const timeouts = { headersTimeout: options.headersTimeoutMs ?? 60_000, bodyTimeout: options.bodyTimeoutMs ?? 120_000 };
    this.secureAgent = options.dispatcher ?? new Agent(timeouts);
    this.insecureAgent = options.dispatcher ?? new Agent({ ...timeouts, connect: { rejectUnauthorized: false } });
    this.userAgent = options.userAgent ?? 'berth/0.1';
  }

  async close(): Promise<void> {
    if (this.options.dispatcher) return;
    await Promise.all([this.secureAgent.close(), this.insecureAgent.close()]);
  }

  /** A handle on one repository with the credentials to use for it. `push` asks for push scope too. */
  repository(ref: Pick<ImageReference, 'domain' | 'path'>, creds?: RegistryCredentials, opts: { push?: boolean } = {}): Repository {
    const eps = registryEndpoints(ref.domain, this.options).filter((e) => !(opts.push && e.mirror));
    return new Repository(this, eps.map((e) => this.endpoint(e)), ref.path, familiarName(ref.domain, ref.path), creds, opts.push ?? false);
  }

  /** `GET /v2/`: finds the scheme (https, or http for insecure registries) and the auth challenge. */
  async ping(domainOrHost: string): Promise<PingResult> {
    const eps = registryEndpoints(domainOrHost, this.options).filter((e) => !e.mirror);
    const ep = this.endpoint(eps[0]);
    await this.ensurePinged(ep);
    return { baseUrl: ep.baseUrl!, ...(ep.challenge ? { challenge: ep.challenge } : {}) };
  }

  /**
   * POST /auth: validates credentials against a registry as `docker login` does. Resolves with
   * Docker's status text and, when the token server hands out a refresh token, an identity token.
   */
  async checkLogin(serverAddress: string | undefined, creds: RegistryCredentials): Promise<{ status: string; identityToken?: string }> {
    const domain = normalizeServerAddress(serverAddress);
    const eps = registryEndpoints(domain, this.options).filter((e) => !e.mirror);
    // A fresh endpoint so a cached challenge or token never vouches for new credentials.
    const ep: Endpoint = { ...eps[0] };
    await this.ensurePinged(ep);
    let identityToken: string | undefined;
    if (ep.challenge?.scheme === 'bearer') {
      const t = await this.fetchToken(ep.challenge, [], creds, { offline: true });
      identityToken = t.refreshToken;
      const res = await this.raw(ep, `${ep.baseUrl}/v2/`, { method: 'GET', headers: { authorization: `Bearer ${t.token}` } });
      await res.body.dump();
      if (res.statusCode !== 200) throw unauthorizedLogin(res.statusCode);
    } else if (ep.challenge?.scheme === 'basic') {
      if (!creds.username) throw unauthorizedLogin(401);
      const res = await this.raw(ep, `${ep.baseUrl}/v2/`, {
        method: 'GET',
        headers: { authorization: basicAuthorization(creds.username, creds.password ?? '') },
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw unauthorizedLogin(res.statusCode);
    }
    return { status: 'Login Succeeded', ...(identityToken ? { identityToken } : {}) };
  }

  // ------------------------------------------------------------------------------------------------
  // Transport, used by Repository.

  private endpoint(e: RegistryEndpoint): Endpoint {
    let ep = this.endpoints.get(e.host);
    if (!ep) {
      ep = { ...e };
      this.endpoints.set(e.host, ep);
    }
    return ep;
  }

  /** @internal */
  async ensurePinged(ep: Endpoint): Promise<void> {
    if (ep.baseUrl && ep.challenge !== undefined) return;
    const schemes = ep.insecure ? ['https', 'http'] : ['https'];
    let lastError: unknown;
    for (const scheme of schemes) {
      const base = `${scheme}://${ep.host}`;
      try {
        const res = await this.raw(ep, `${base}/v2/`, { method: 'GET' });
        await res.body.dump();
        if (res.statusCode === 401) {
          const challenges = parseChallenges(res.headers['www-authenticate']);
          ep.challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') ?? null;
        } else if (res.statusCode === 200) {
          ep.challenge = null;
        } else if (res.statusCode === 404 && scheme === 'https' && ep.insecure) {
          lastError = new RegistryError(ErrorCode.Unavailable, `${base}/v2/ answered ${res.statusCode}`, res.statusCode);
          continue;
        } else {
          ep.challenge = null;
        }
        ep.baseUrl = base;
        return;
      } catch (e) {
        lastError = e;
      }
    }
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    throw new DomainError(ErrorCode.Unavailable, `Get "${schemes[0]}://${ep.host}/v2/": ${why}`);
  }

  /** One HTTP exchange, no auth logic. */
  private async raw(ep: Endpoint, url: string, opts: SendOptions): Promise<Response> {
    try {
      return await request(url, {
        method: opts.method ?? 'GET',
        headers: { 'user-agent': this.userAgent, ...opts.headers },
        body: opts.body,
        dispatcher: ep.insecure ? this.insecureAgent : this.secureAgent,
      });
    } catch (e) {
      const err = e as Error & { code?: string };
      throw new DomainError(ErrorCode.Unavailable, `${opts.method ?? 'GET'} ${url}: ${err.message}${err.code ? ` (${err.code})` : ''}`);
    }
  }

  /**
   * A request with authentication: answers a 401 by (re)negotiating a token for the challenge's
   * scope plus ours and retries once when the body can be replayed.
   * @internal
   */
  async send(ep: Endpoint, pathOrUrl: string, opts: SendOptions, creds: RegistryCredentials | undefined): Promise<Response> {
    await this.ensurePinged(ep);
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : ep.baseUrl + pathOrUrl;
    const scopes = opts.scopes ?? [];
    const replayable = !(opts.body instanceof Readable);
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authorization(ep, scopes, creds, attempt > 0);
      const headers = { ...opts.headers, ...(auth ? { authorization: auth } : {}) };
      let res = await this.raw(ep, url, { ...opts, headers });
      if (res.statusCode === 401 && attempt === 0 && replayable) {
        const challenges = parseChallenges(res.headers['www-authenticate']);
        await res.body.dump();
        const c = challenges.find((x) => x.scheme === 'bearer') ?? challenges.find((x) => x.scheme === 'basic');
        if (c) {
          ep.challenge = c;
          if (c.params.scope) for (const s of c.params.scope.split(' ')) if (!scopes.includes(s)) scopes.push(s);
          continue;
        }
        throw new RegistryError(ErrorCode.Unauthorized, 'unauthorized: authentication required', 401, ['UNAUTHORIZED']);
      }
      if (opts.follow) res = await this.followRedirects(ep, url, res, headers, opts);
      return res;
    }
  }

  private async followRedirects(ep: Endpoint, url: string, res: Response, headers: Record<string, string>, opts: SendOptions): Promise<Response> {
    let current = url;
    for (let hops = 0; hops < 10 && [301, 302, 303, 307, 308].includes(res.statusCode); hops++) {
      const location = headerValue(res.headers, 'location');
      await res.body.dump();
      if (!location) throw new RegistryError(ErrorCode.Unavailable, `redirect without Location from ${current}`, res.statusCode);
      const next = new URL(location, current);
      const sameHost = next.host === new URL(current).host;
      const h = { ...headers };
      if (!sameHost) delete h.authorization;
      current = next.toString();
      res = await this.raw({ ...ep, insecure: ep.insecure || next.protocol === 'http:' }, current, { ...opts, headers: h });
    }
    return res;
  }

  private async authorization(ep: Endpoint, scopes: string[], creds: RegistryCredentials | undefined, renew: boolean): Promise<string | undefined> {
    const c = ep.challenge;
    if (!c) return creds?.registryToken ? `Bearer ${creds.registryToken}` : undefined;
    if (c.scheme === 'basic') {
      return creds?.username ? basicAuthorization(creds.username, creds.password ?? '') : undefined;
    }
    if (c.scheme !== 'bearer') return undefined;
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    const key = [c.params.realm, c.params.service ?? '', [...scopes].sort().join(' '), creds?.username ?? '', creds?.identityToken ? 'id' : ''].join('|');
    const cached = this.tokens.get(key);
    if (cached && !renew && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    const t = await this.fetchToken(c, scopes, creds);
    this.tokens.set(key, { token: t.token, expiresAt: t.expiresAt });
    return `Bearer ${t.token}`;
  }

  /** The token endpoint: GET with Basic credentials, or POST the OAuth2 refresh-token grant. */
  private async fetchToken(
    c: Challenge,
    scopes: string[],
    creds: RegistryCredentials | undefined,
    opts: { offline?: boolean } = {},
  ): Promise<{ token: string; expiresAt: number; refreshToken?: string }> {
    const realm = c.params.realm;
    if (!realm) throw new RegistryError(ErrorCode.Unauthorized, 'unauthorized: bearer challenge without realm', 401);
    const realmUrl = new URL(realm);
    const ep: Endpoint = { host: realmUrl.host, insecure: realmUrl.protocol === 'http:', mirror: false };
    const allScopes = [...new Set([...scopes, ...(c.params.scope ? c.params.scope.split(' ') : [])])];
    let res: Response | undefined;
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'berth' });
      if (c.params.service) form.set('service', c.params.service);
      if (allScopes.length) form.set('scope', allScopes.join(' '));
      if (opts.offline) form.set('access_type', 'offline');
      res = await this.raw(ep, realm, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      if (res.statusCode === 404 || res.statusCode === 405) {
        await res.body.dump();
        res = undefined; // the server has no OAuth2 POST endpoint: fall back to GET
      }
    }
    if (!res) {
      const u = new URL(realm);
      if (c.params.service) u.searchParams.set('service', c.params.service);
      for (const s of allScopes) u.searchParams.append('scope', s);
      if (opts.offline) {
        u.searchParams.set('offline_token', 'true');
        u.searchParams.set('client_id', 'berth');
      }
      const headers: Record<string, string> = {};
      if (creds?.username) headers.authorization = basicAuthorization(creds.username, creds.password ?? '');
      res = await this.raw(ep, u.toString(), { method: 'GET', headers });
    }
    const text = await res.body.text();
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new RegistryError(
        ErrorCode.Unauthorized,
        hasCredentials(creds) ? 'unauthorized: incorrect username or password' : 'unauthorized: authentication required',
        res.statusCode,
        ['UNAUTHORIZED'],
      );
    }
    if (res.statusCode !== 200) {
      throw new RegistryError(ErrorCode.Unavailable, `token endpoint ${realm} answered ${res.statusCode}: ${text.slice(0, 200)}`, res.statusCode);
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string; refresh_token?: string };
    try {
      body = JSON.parse(text);
    } catch {
      throw new RegistryError(ErrorCode.Unavailable, `token endpoint ${realm} sent invalid JSON`, res.statusCode);
    }
    const token = body.token || body.access_token;
    if (!token) throw new RegistryError(ErrorCode.Unavailable, `token endpoint ${realm} sent no token`, res.statusCode);
    const ttl = body.expires_in && body.expires_in > 0 ? body.expires_in : (this.options.defaultTokenTtlSeconds ?? 60);
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) && issued <= Date.now() ? issued : Date.now();
    // Renew a little early so a token does not expire between check and use.
    const expiresAt = start + ttl * 1000 - Math.min(10_000, ttl * 100);
    return { token, expiresAt, ...(body.refresh_token ? { refreshToken: body.refresh_token } : {}) };
  }
}

function unauthorizedLogin(status: number): RegistryError {
  return new RegistryError(ErrorCode.Unauthorized, 'unauthorized: incorrect username or password', status, ['UNAUTHORIZED']);
}

/** Turns a non-success response into a RegistryError with Docker's errcode wording. */
async function registryError(res: Response, what: string): Promise<RegistryError> {
  let text = '';
  try {
    text = await res.body.text();
  } catch {
    /* body already consumed (HEAD) */
  }
  const codes: string[] = [];
  let detail = '';
  try {
    const doc = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    if (Array.isArray(doc.errors) && doc.errors.length) {
      detail = doc.errors
        .map((e) => {
          if (e.code) codes.push(e.code);
          const code = (e.code ?? 'unknown').toLowerCase().replace(/_/g, ' ');
          return `${code}: ${e.message ?? ''}`;
        })
        .join(', ');
    }
  } catch {
    /* not JSON */
  }
  if (!detail) detail = `${res.statusCode} ${STATUS_TEXT[res.statusCode] ?? ''}`.trim();
  const code =
    res.statusCode === 401
      ? ErrorCode.Unauthorized
      : res.statusCode === 403
        ? ErrorCode.Forbidden
        : res.statusCode === 404
          ? ErrorCode.NotFound
          : res.statusCode === 400 || res.statusCode === 405 || res.statusCode === 416
            ? ErrorCode.InvalidArgument
            : ErrorCode.Unavailable;
  return new RegistryError(code, `${what}: ${detail}`, res.statusCode, codes);
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' };

async function readLimited(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += (c as Buffer).length;
    if (n > limit) {
      body.destroy();
      throw new DomainError(ErrorCode.InvalidArgument, `manifest too big: more than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A pass-through that fails at the end when the bytes do not hash to `digest` (or exceed `size`). */
export function verifyingStream(expected: { digest: string; size?: number }): Transform {
  const hash = createHash('sha256');
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      n += chunk.length;
      if (expected.size !== undefined && n > expected.size) {
        cb(new DigestMismatchError(expected.digest, 'unknown', ` (more than the expected ${expected.size} bytes)`));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      const actual = 'sha256:' + hash.digest('hex');
      if (actual !== expected.digest || (expected.size !== undefined && n !== expected.size)) {
        cb(new DigestMismatchError(expected.digest, actual));
        return;
      }
      cb();
    },
  });
}

/** Counts bytes flowing through, for upload progress. */
function counting(onBytes: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
}

/** Runs `fn` over `items` with at most `concurrency` in flight; waits for all, then throws the first error. */
export async function parallel<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let firstError: unknown;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        if (!failed) firstError = e;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failed) throw firstError;
  return results;
}

export class Repository {
  /** Endpoint that served the last manifest; blobs come from the same one. */
  private current: Endpoint;

  constructor(
    private readonly client: RegistryClient,
    private readonly endpoints: Endpoint[],
    readonly path: string,
    /** The name as the CLI shows it, for error messages. */
    readonly displayName: string,
    private readonly creds: RegistryCredentials | undefined,
    private readonly push: boolean,
  ) {
    this.current = endpoints[endpoints.length - 1];
  }

  private get scopes(): string[] {
    return [`repository:${this.path}:${this.push ? 'pull,push' : 'pull'}`];
  }

  private send(path: string, opts: SendOptions, ep = this.current): Promise<Response> {
    return this.client.send(ep, path, { scopes: this.scopes, ...opts }, this.creds);
  }

  /** Tries mirrors then the registry for read operations; remembers the endpoint that answered. */
  private async onEndpoints<T>(fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (const ep of this.endpoints) {
      try {
        const r = await fn(ep);
        this.current = ep;
        return r;
      } catch (e) {
        lastError = e;
        if (!ep.mirror) break;
      }
    }
    throw lastError;
  }

  /** HEAD a manifest by tag or digest: its descriptor (mediaType, digest, size). */
  async headManifest(reference: string): Promise<Descriptor> {
    return this.onEndpoints(async (ep) => {
      const res = await this.send(`/v2/${this.path}/manifests/${reference}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT.join(', ') } }, ep);
      await res.body.dump();
      if (res.statusCode !== 200) throw await manifestError(res, this.displayName, reference);
      const digest = headerValue(res.headers, 'docker-content-digest') ?? (reference.startsWith('sha256:') ? reference : undefined);
      if (!digest) throw new RegistryError(ErrorCode.Unavailable, `registry sent no Docker-Content-Digest for ${this.path}:${reference}`, 200);
      return {
        mediaType: headerValue(res.headers, 'content-type')?.split(';')[0] ?? '',
        digest,
        size: Number(headerValue(res.headers, 'content-length') ?? 0),
      };
    });
  }

  /** GET a manifest or index; verifies its digest (as served) against the reference or the header. */
  async getManifest(reference: string): Promise<FetchedManifest> {
    return this.onEndpoints(async (ep) => {
      const res = await this.send(`/v2/${this.path}/manifests/${reference}`, { method: 'GET', headers: { accept: MANIFEST_ACCEPT.join(', ') } }, ep);
      if (res.statusCode !== 200) throw await manifestError(res, this.displayName, reference);
      const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES);
      const digest = sha256(bytes);
      const header = headerValue(res.headers, 'docker-content-digest');
      if (reference.includes(':') && reference.startsWith('sha256:') && reference !== digest) {
        throw new DigestMismatchError(reference, digest, ` (manifest ${this.path})`);
      }
      if (header && header.startsWith('sha256:') && header !== digest) {
        throw new DigestMismatchError(header, digest, ` (manifest ${this.path}:${reference})`);
      }
      const parsed = parseManifest(bytes, headerValue(res.headers, 'content-type'));
      const descriptor: Descriptor = { mediaType: parsed.mediaType, digest, size: bytes.length };
      return parsed.kind === 'index'
        ? { descriptor, bytes, kind: 'index', index: parsed.index }
        : { descriptor, bytes, kind: 'manifest', manifest: parsed.manifest };
    });
  }

  /** Resolves a tag or digest to one image manifest, choosing a platform from an index. */
  async resolveImage(reference: string, platform?: Platform | string): Promise<ResolvedImage> {
    const top = await this.getManifest(reference);
    if (top.kind === 'manifest') {
      return { repoDigest: top.descriptor.digest, manifest: top as ResolvedImage['manifest'] };
    }
    const entry = selectPlatform(top.index!, platform ?? hostPlatform());
    const m = await this.getManifest(entry.digest);
    if (m.kind !== 'manifest') throw new DomainError(ErrorCode.InvalidArgument, `manifest list entry ${entry.digest} is not an image manifest`);
    return { repoDigest: top.descriptor.digest, index: top, manifest: m as ResolvedImage['manifest'], ...(entry.platform ? { platform: entry.platform } : {}) };
  }

  /** Size of a blob in the registry, undefined when absent. */
  async blobExists(digest: string): Promise<number | undefined> {
    const res = await this.send(`/v2/${this.path}/blobs/${digest}`, { method: 'HEAD', follow: true });
    await res.body.dump();
    if (res.statusCode === 200) return Number(headerValue(res.headers, 'content-length') ?? 0);
    if (res.statusCode === 404) return undefined;
    throw await registryError(res, `HEAD blob ${digest}`);
  }

  /** A verified blob in memory (configs). */
  async fetchBlobBytes(desc: Pick<Descriptor, 'digest' | 'size'>, limit = 64 * 1024 * 1024): Promise<Buffer> {
    const res = await this.send(`/v2/${this.path}/blobs/${desc.digest}`, { method: 'GET', follow: true });
    if (res.statusCode !== 200) throw await registryError(res, `GET blob ${desc.digest}`);
    const bytes = await readLimited(res.body, Math.min(limit, desc.size));
    const actual = sha256(bytes);
    if (actual !== desc.digest || bytes.length !== desc.size) throw new DigestMismatchError(desc.digest, actual);
    return bytes;
  }

  /**
   * A blob as a stream that errors at its end when the digest does not match: for unpacking while
   * downloading, where the consumer must discard what it made from a failed stream.
   */
  async openBlob(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    const res = await this.send(`/v2/${this.path}/blobs/${desc.digest}`, { method: 'GET', follow: true });
    if (res.statusCode !== 200) throw await registryError(res, `GET blob ${desc.digest}`);
    const v = verifyingStream(desc);
    res.body.on('error', (e) => v.destroy(e));
    return res.body.pipe(v);
  }

  /**
   * Downloads a blob into the store: resumes a partial download with Range when one exists, and
   * publishes the blob only after its digest and size are verified.
   */
  async fetchBlob(desc: Pick<Descriptor, 'digest' | 'size'>, store: ContentStore, onProgress?: ProgressFn): Promise<BlobAction> {
    if (await store.has(desc.digest)) {
      onProgress?.({ digest: desc.digest, action: 'cached', current: desc.size, total: desc.size });
      return 'cached';
    }
    let offset = await store.partialSize(desc.digest);
    if (offset >= desc.size) {
      await store.discardPartial(desc.digest);
      offset = 0;
    }
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res = await this.send(`/v2/${this.path}/blobs/${desc.digest}`, { method: 'GET', headers, follow: true });
    let resume = false;
    if (res.statusCode === 206) {
      const range = headerValue(res.headers, 'content-range');
      resume = !!range && range.startsWith(`bytes ${offset}-`);
      if (!resume) {
        await res.body.dump();
        await store.discardPartial(desc.digest);
        res = await this.send(`/v2/${this.path}/blobs/${desc.digest}`, { method: 'GET', follow: true });
      }
    } else if (res.statusCode === 416) {
      await res.body.dump();
      await store.discardPartial(desc.digest);
      res = await this.send(`/v2/${this.path}/blobs/${desc.digest}`, { method: 'GET', follow: true });
    }
    if (res.statusCode !== 200 && !(resume && res.statusCode === 206)) throw await registryError(res, `GET blob ${desc.digest}`);
    await store.write(desc, res.body, {
      resume,
      onProgress: (n) => onProgress?.({ digest: desc.digest, action: 'download', current: n, total: desc.size }),
    });
    onProgress?.({ digest: desc.digest, action: 'downloaded', current: desc.size, total: desc.size });
    return 'downloaded';
  }

  /** Downloads blobs with bounded parallelism (dockerd's default is 3). */
  async fetchBlobs(descs: ReadonlyArray<Pick<Descriptor, 'digest' | 'size'>>, store: ContentStore, opts: { concurrency?: number; onProgress?: ProgressFn } = {}): Promise<BlobAction[]> {
    return parallel(descs, opts.concurrency ?? 3, (d) => this.fetchBlob(d, store, opts.onProgress));
  }

  /**
   * Pull into a store: manifest(s), config, layers. Manifests are stored too, so the caller can serve
   * them later by digest.
   */
  async pullImage(reference: string, store: ContentStore, opts: { platform?: Platform | string; concurrency?: number; onProgress?: ProgressFn } = {}): Promise<PulledImage> {
    const resolved = await this.resolveImage(reference, opts.platform);
    if (resolved.index) await store.put(resolved.index.bytes, resolved.index.descriptor.digest);
    await store.put(resolved.manifest.bytes, resolved.manifest.descriptor.digest);
    const m = resolved.manifest.manifest;
    let configBytes: Buffer;
    if (await store.has(m.config.digest)) configBytes = await store.read(m.config.digest);
    else {
      configBytes = await this.fetchBlobBytes(m.config);
      await store.put(configBytes, m.config.digest);
    }
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids) || config.rootfs.diff_ids.length !== m.layers.length) {
      throw new DomainError(ErrorCode.InvalidArgument, `invalid image config ${m.config.digest}: rootfs.diff_ids does not match the manifest layers`);
    }
    const actions = await this.fetchBlobs(m.layers, store, opts);
    return { ...resolved, config, configDigest: m.config.digest, layers: m.layers.map((l, i) => ({ ...l, action: actions[i] })) };
  }

  // ------------------------------------------------------------------------------------------------
  // Push

  /**
   * Pushes one blob unless the registry has it: tries a cross-repository mount from each of
   * `mountFrom` (201 = mounted; 202 = the registry opened a normal upload instead), then
   * POST → PATCH (streamed) → PUT ?digest=.
   */
  async pushBlob(
    desc: Pick<Descriptor, 'digest' | 'size'>,
    open: () => Readable | Promise<Readable>,
    opts: { mountFrom?: string[]; onProgress?: ProgressFn } = {},
  ): Promise<BlobAction> {
    if ((await this.blobExists(desc.digest)) !== undefined) {
      opts.onProgress?.({ digest: desc.digest, action: 'exists', current: desc.size, total: desc.size });
      return 'exists';
    }
    let location: string | undefined;
    for (const from of opts.mountFrom ?? []) {
      if (from === this.path) continue;
      const q = new URLSearchParams({ mount: desc.digest, from });
      const res = await this.send(`/v2/${this.path}/blobs/uploads/?${q}`, {
        method: 'POST',
        headers: { 'content-length': '0' },
        scopes: [...this.scopes, `repository:${from}:pull`],
      });
      await res.body.dump();
      if (res.statusCode === 201) {
        opts.onProgress?.({ digest: desc.digest, action: 'mounted', current: desc.size, total: desc.size });
        return 'mounted';
      }
      if (res.statusCode === 202) {
        location = headerValue(res.headers, 'location');
        break;
      }
      // Anything else (e.g. 401 for the source): fall back to a plain upload.
    }
    if (!location) {
      const res = await this.send(`/v2/${this.path}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
      if (res.statusCode !== 202) throw await registryError(res, `POST blob upload for ${this.path}`);
      await res.body.dump();
      location = headerValue(res.headers, 'location');
    }
    if (!location) throw new RegistryError(ErrorCode.Unavailable, 'registry opened an upload without Location', 202);
    const base = this.current.baseUrl!;
    const patchUrl = new URL(location, base + '/').toString();
    const source = await open();
    const body = source.pipe(counting((n) => opts.onProgress?.({ digest: desc.digest, action: 'upload', current: n, total: desc.size })));
    source.on('error', (e) => body.destroy(e));
    const patch = await this.send(patchUrl, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body });
    if (patch.statusCode !== 202 && patch.statusCode !== 204) throw await registryError(patch, `PATCH blob ${desc.digest}`);
    await patch.body.dump();
    const putUrl = new URL(headerValue(patch.headers, 'location') ?? patchUrl, base + '/');
    putUrl.searchParams.set('digest', desc.digest);
    const put = await this.send(putUrl.toString(), { method: 'PUT', headers: { 'content-length': '0' } });
    if (put.statusCode !== 201 && put.statusCode !== 204) throw await registryError(put, `PUT blob ${desc.digest}`);
    await put.body.dump();
    opts.onProgress?.({ digest: desc.digest, action: 'uploaded', current: desc.size, total: desc.size });
    return 'uploaded';
  }

  /** PUT a manifest or index under a tag or digest; returns its digest. */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.send(`/v2/${this.path}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': mediaType }, body: bytes });
    if (res.statusCode !== 201 && res.statusCode !== 200 && res.statusCode !== 202) throw await registryError(res, `PUT manifest ${this.path}:${reference}`);
    await res.body.dump();
    const digest = sha256(bytes);
    const header = headerValue(res.headers, 'docker-content-digest');
    if (header && header !== digest) throw new DigestMismatchError(digest, header, ' (registry stored different manifest bytes)');
    return digest;
  }

  /** Deletes a manifest by digest (registries need delete enabled). */
  async deleteManifest(digest: string): Promise<void> {
    const res = await this.send(`/v2/${this.path}/manifests/${digest}`, { method: 'DELETE' });
    if (res.statusCode !== 202 && res.statusCode !== 200) throw await registryError(res, `DELETE manifest ${digest}`);
    await res.body.dump();
  }

  /** GET /v2/<name>/tags/list */
  async listTags(): Promise<string[]> {
    const res = await this.send(`/v2/${this.path}/tags/list`, { method: 'GET' });
    if (res.statusCode !== 200) throw await registryError(res, `GET tags of ${this.path}`);
    const doc = (await res.body.json()) as { tags?: string[] | null };
    return doc.tags ?? [];
  }
}

/** Docker's wording for manifest failures: `manifest for x:tag not found: manifest unknown: …`. */
async function manifestError(res: Response, path: string, reference: string): Promise<RegistryError> {
  const err = await registryError(res, `${path}:${reference}`);
  const sep = reference.startsWith('sha256:') ? '@' : ':';
  const detail = err.message.slice(`${path}:${reference}: `.length);
  if (res.statusCode === 404) {
    return new RegistryError(ErrorCode.NotFound, `manifest for ${path}${sep}${reference} not found: ${detail}`, 404, err.registryCodes);
  }
  if (res.statusCode === 401 || res.statusCode === 403) {
    return new RegistryError(
      ErrorCode.NotFound,
      `pull access denied for ${path}, repository does not exist or may require 'docker login': ${detail}`,
      res.statusCode,
      err.registryCodes,
    );
  }
  return err;
}
