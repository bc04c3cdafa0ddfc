/**
 * A real registry for tests: Debian's `docker-registry` (distribution 2.8) on a free loopback port with
 * a temp root directory; optionally htpasswd Basic auth, or token auth backed by a tiny in-test token
 * server that signs RS256 JWTs with a throwaway key and x509 certificate (openssl at test time).
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  username?: string;
  password?: string;
  /** Token server reply field (both are allowed by the spec). */
  tokenField?: 'token' | 'access_token';
  /** Token lifetime the token server announces. */
  tokenTtlSeconds?: number;
  /** Token server grants anonymous pulls (no credentials) when true. */
  anonymousPull?: boolean;
}

export interface TokenRequest {
  scopes: string[];
  service?: string;
  user?: string;
}

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:41234 — also the reference domain. */
  readonly host: string;
  readonly url: string;
  readonly root: string;
  readonly username: string;
  readonly password: string;
  /** Every request the token server answered (token auth only). */
  readonly tokenRequests: TokenRequest[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export async function startTestRegistry(opts: TestRegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const username = opts.username ?? 'berth';
  const password = opts.password ?? `pw-${randomBytes(4).toString('hex')}`;
  const root = mkdtempSync(join(tmpdir(), 'berth-registry-'));
  const tokenRequests: TokenRequest[] = [];
  let tokenServer: Server | undefined;
  let child: ChildProcess | undefined;
  try {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    let authYaml = '';
    if (auth === 'htpasswd') {
      const htpasswd = execFileSync('htpasswd', ['-Bbn', username, password], { encoding: 'utf8' });
      writeFileSync(join(root, 'htpasswd'), htpasswd);
      authYaml = `auth:\n  htpasswd:\n    realm: test\n    path: ${join(root, 'htpasswd')}\n`;
    } else if (auth === 'token') {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(root, 'key.pem'), '-out', join(root, 'cert.pem'), '-days', '1', '-subj', '/CN=berth-test-token'],
        { stdio: 'ignore' },
      );
      const key = createPrivateKey(readFileSync(join(root, 'key.pem')));
      const certDer = new X509Certificate(readFileSync(join(root, 'cert.pem'))).raw;
      tokenServer = createServer((req, res) => tokenHandler(req, res, { key, certDer, username, password, opts, tokenRequests }));
      await new Promise<void>((r) => tokenServer!.listen(0, '127.0.0.1', r));
      const tport = (tokenServer.address() as AddressInfo).port;
      authYaml =
        `auth:\n  token:\n    realm: http://127.0.0.1:${tport}/token\n    service: berth-test\n    issuer: berth-test-issuer\n` +
        `    rootcertbundle: ${join(root, 'cert.pem')}\n`;
    }
    const config =
      `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(root, 'data')}\n  delete:\n    enabled: true\n` +
      `http:\n  addr: ${host}\n${authYaml}`;
    writeFileSync(join(root, 'config.yml'), config);
    const log = openSync(join(root, 'registry.log'), 'a');
    child = spawn('docker-registry', ['serve', join(root, 'config.yml')], { stdio: ['ignore', log, log] });
    closeSync(log);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const status = await fetch(`http://${host}/v2/`).then((r) => r.status, () => 0);
      if (status === 200 || status === 401) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        const logText = readFileSync(join(root, 'registry.log'), 'utf8');
        throw new Error(`docker-registry did not start on ${host}: ${logText.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const proc = child;
    const ts = tokenServer;
    return {
      host,
      url: `http://${host}`,
      root,
      username,
      password,
      tokenRequests,
      async stop() {
        if (proc.exitCode === null) {
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        if (ts) await new Promise<void>((r) => ts.close(() => r()));
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (tokenServer) tokenServer.close();
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}

function tokenHandler(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: {
    key: ReturnType<typeof createPrivateKey>;
    certDer: Buffer;
    username: string;
    password: string;
    opts: TestRegistryOptions;
    tokenRequests: TokenRequest[];
  },
): void {
  const url = new URL(req.url ?? '/', 'http://token');
  if (url.pathname !== '/token' || req.method !== 'GET') {
    res.writeHead(404).end();
    return;
  }
  let user: string | undefined;
  const authz = req.headers.authorization;
  if (authz?.startsWith('Basic ')) {
    const [u, ...rest] = Buffer.from(authz.slice(6), 'base64').toString('utf8').split(':');
    if (u !== ctx.username || rest.join(':') !== ctx.password) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ details: 'incorrect username or password' }));
      return;
    }
    user = u;
  }
  const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
  ctx.tokenRequests.push({ scopes, ...(url.searchParams.get('service') ? { service: url.searchParams.get('service')! } : {}), ...(user ? { user } : {}) });
  const access = scopes
    .map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop()!.split(',');
      const name = rest.join(':');
      const granted = user ? actions : ctx.opts.anonymousPull ? actions.filter((a) => a === 'pull') : [];
      return { type, name, actions: granted };
    })
    .filter((a) => a.actions.length);
  const now = Math.floor(Date.now() / 1000);
  const ttl = ctx.opts.tokenTtlSeconds ?? 300;
  const header = { alg: 'RS256', typ: 'JWT', x5c: [ctx.certDer.toString('base64')] };
  const claims = { iss: 'berth-test-issuer', sub: user ?? '', aud: 'berth-test', exp: now + ttl, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const token = `${signingInput}.${b64url(sign('sha256', Buffer.from(signingInput), ctx.key))}`;
  const field = ctx.opts.tokenField ?? 'token';
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ [field]: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() }));
}
