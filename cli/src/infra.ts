/**
 * Postgres and Redis for `berth up`: use what is configured, else what answers on the default address,
 * else run Berth-owned servers under <data-root> (installing Debian's packages when missing).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { BerthConfig } from '@berth/config';
import { hostPort, redact, tcpReachable } from './net';
import { isAlive, readPid, stopPid } from './processes';

const say = (msg: string) => process.stderr.write(`berth: ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const ownedPostgresDir = (c: BerthConfig) => join(c['data-root'], 'postgres');
export const ownedPostgresSocketDir = (c: BerthConfig) => join(c.runDir, 'postgres');
export const ownedRedisDir = (c: BerthConfig) => join(c['data-root'], 'redis');
export const ownedRedisPidFile = (c: BerthConfig) => join(c.runDir, 'redis.pid');

function run(cmd: string, args: string[], what?: string, quiet = false): void {
  if (what) say(what);
  const r = spawnSync(cmd, args, { stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function requireRoot(why: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${why}: run berth as root`);
}

let aptUpdated = false;
function aptInstall(pkg: string): void {
  requireRoot(`installing ${pkg}`);
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq'], 'apt-get update');
    aptUpdated = true;
  }
  run('apt-get', ['install', '-y', '-qq', pkg], `apt-get install -y ${pkg}`);
}

// ---------------------------------------------------------------------------------------------------
// Postgres

/** The newest installed server's bin directory (/usr/lib/postgresql/<v>/bin), or null. */
export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0], 'bin') : null;
}

function userIds(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Makes every directory from / down to `dir` traversable by others (the postgres user). */
function ensureTraversable(dir: string): void {
  let p = '';
  for (const part of dir.split('/').filter(Boolean)) {
    p += `/${part}`;
    const mode = statSync(p).mode;
    if ((mode & 0o001) === 0) chmodSync(p, (mode & 0o7777) | 0o001);
  }
}

export function ownedPostgresRunning(c: BerthConfig): boolean {
  const pid = readPid(join(ownedPostgresDir(c), 'postmaster.pid'));
  return pid !== null && isAlive(pid);
}

async function startOwnedPostgres(c: BerthConfig, port: number): Promise<void> {
  requireRoot('running a Berth-owned Postgres');
  let bin = postgresBinDir();
  if (!bin) {
    aptInstall('postgresql');
    bin = postgresBinDir();
    if (!bin) throw new Error('postgresql was installed but no /usr/lib/postgresql/<version>/bin/initdb was found');
    // Debian's package creates and starts its own "main" cluster (peer/password auth). Berth runs its
    // own with trust on localhost instead, so stop the one the package just started.
    if (existsSync('/etc/postgresql')) {
      for (const v of readdirSync('/etc/postgresql')) {
        spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', v, 'main', 'stop'], { stdio: 'ignore' });
      }
    }
  }
  const dataDir = ownedPostgresDir(c);
  const sockDir = ownedPostgresSocketDir(c);
  const log = join(c.logDir, 'postgres.log');
  const { uid, gid } = userIds('postgres');
  for (const d of [dataDir, sockDir, c.logDir]) mkdirSync(d, { recursive: true });
  ensureTraversable(c['data-root']);
  ensureTraversable(c.logDir);
  ensureTraversable(c.runDir);
  chownSync(dataDir, uid, gid);
  chmodSync(dataDir, 0o700);
  chownSync(sockDir, uid, gid);
  if (!existsSync(log)) writeFileSync(log, '');
  chownSync(log, uid, gid);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    run(
      'runuser',
      ['-u', 'postgres', '--', join(bin, 'initdb'), '-D', dataDir, '-U', 'postgres', '--auth-local=trust', '--auth-host=trust', '-E', 'UTF8', '--locale=C'],
      `initdb ${dataDir} (user postgres, trust auth on localhost)`,
      true,
    );
  }
  if (!ownedPostgresRunning(c)) {
    run(
      'runuser',
      ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', dataDir, '-l', log, '-w', '-t', '60', '-o',
        `-c listen_addresses=127.0.0.1 -p ${port} -k ${sockDir}`, 'start'],
      `starting Berth-owned Postgres on 127.0.0.1:${port} (data ${dataDir}, log ${log})`,
    );
  }
}

export async function stopOwnedPostgres(c: BerthConfig): Promise<boolean> {
  if (!ownedPostgresRunning(c)) return false;
  const bin = postgresBinDir();
  if (bin) {
    run('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', ownedPostgresDir(c), '-m', 'fast', '-w', 'stop'], 'stopping Berth-owned Postgres');
  } else {
    const pid = readPid(join(ownedPostgresDir(c), 'postmaster.pid'));
    if (pid) await stopPid(pid, undefined, 30_000);
  }
  return true;
}

function adminUrl(url: string): { admin: string; database: string } {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres';
  u.pathname = '/postgres';
  return { admin: u.toString(), database };
}

/** Connects (retrying for `timeoutMs`) and returns null, or the last error message. */
export async function postgresCheck(url: string, timeoutMs = 0): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return null;
    } catch (e) {
      if (Date.now() >= deadline) return (e as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(250);
  }
}

async function ensureDatabase(url: string): Promise<void> {
  const { admin, database } = adminUrl(url);
  const err = await postgresCheck(admin, 15_000);
  if (err) throw new Error(`cannot connect to Postgres at ${redact(admin)}: ${err}`);
  const client = new Client({ connectionString: admin });
  await client.connect();
  try {
    const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (r.rowCount === 0) {
      say(`creating database "${database}"`);
      await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    }
  } finally {
    await client.end();
  }
}

export async function ensurePostgres(c: BerthConfig): Promise<void> {
  const { host, port } = hostPort(c.postgresUrl, 5432);
  if (!c.postgresConfigured && !(await tcpReachable(host, port))) {
    await startOwnedPostgres(c, port);
  } else if (c.postgresConfigured && !(await tcpReachable(host, port, 3000))) {
    throw new Error(`Postgres at ${redact(c.postgresUrl)} (the "postgres" key / BERTH_POSTGRES) is not reachable`);
  }
  await ensureDatabase(c.postgresUrl);
}

// ---------------------------------------------------------------------------------------------------
// Redis

export function ownedRedisRunning(c: BerthConfig): boolean {
  const pid = readPid(ownedRedisPidFile(c));
  return pid !== null && isAlive(pid, 'redis-server');
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export async function ensureRedis(c: BerthConfig): Promise<void> {
  const { host, port } = hostPort(c.redisUrl, 6379);
  if (await tcpReachable(host, port)) return;
  if (c.redisConfigured) throw new Error(`Redis at ${redact(c.redisUrl)} (the "redis" key / BERTH_REDIS) is not reachable`);
  requireRoot('running a Berth-owned Redis');
  if (!which('redis-server')) {
    aptInstall('redis-server');
    // Debian's package may start its own server on 6379; if so, that is the one we use.
    for (let i = 0; i < 10; i++) {
      if (await tcpReachable(host, port)) return;
      await sleep(200);
    }
  }
  const dir = ownedRedisDir(c);
  mkdirSync(dir, { recursive: true });
  mkdirSync(c.runDir, { recursive: true });
  mkdirSync(c.logDir, { recursive: true });
  run(
    'redis-server',
    ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--pidfile', ownedRedisPidFile(c),
      '--logfile', join(c.logDir, 'redis.log'), '--appendonly', 'yes'],
    `starting Berth-owned Redis on 127.0.0.1:${port} (data ${dir})`,
  );
  for (let i = 0; i < 100; i++) {
    if (await tcpReachable(host, port)) return;
    await sleep(100);
  }
  throw new Error(`Redis did not start; see ${join(c.logDir, 'redis.log')}`);
}

export async function stopOwnedRedis(c: BerthConfig): Promise<boolean> {
  const pid = readPid(ownedRedisPidFile(c));
  if (pid === null || !isAlive(pid, 'redis-server')) return false;
  say('stopping Berth-owned Redis');
  await stopPid(pid, 'redis-server', 30_000);
  return true;
}

/** PING over a plain TCP connection (RESP); null when PONG, else the reason. */
export async function redisCheck(url: string): Promise<string | null> {
  const { host, port } = hostPort(url, 6379);
  const u = new URL(url);
  if (u.protocol === 'rediss:') return (await tcpReachable(host, port)) ? null : 'not reachable';
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let buf = '';
    const done = (r: string | null) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(2000, () => done('no answer'));
    s.once('error', (e) => done(e.message));
    s.once('connect', () => {
      const pass = decodeURIComponent(u.password);
      const user = decodeURIComponent(u.username);
      if (pass) s.write(user ? `AUTH ${user} ${pass}\r\n` : `AUTH ${pass}\r\n`);
      s.write('PING\r\n');
    });
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('+PONG')) done(null);
      else if (buf.startsWith('-')) done(buf.split('\r\n')[0].slice(1));
    });
  });
}
