#!/usr/bin/env node
/**
 * berth: up | down [--all] | status | logs [service] [-f] | config | migrate | projections rebuild [service]
 *        | test. Run through ./berth, which bootstraps the checkout first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, unixSockets, type BerthConfig } from '@berth/config';
import { flag, numberFlag, parseArgs, UsageError, type ParsedArgs } from './args';
import {
  ensurePostgres,
  ensureRedis,
  ownedPostgresRunning,
  ownedRedisRunning,
  postgresCheck,
  redisCheck,
  stopOwnedPostgres,
  stopOwnedRedis,
} from './infra';
import { DOMAIN_SERVICES, PROCESSES, repoRoot, SERVICES, serviceScript } from './layout';
import { ping, redact } from './net';
import { isAlive, logFile, processState, readPid, removePidFile, startProcess, stopPid, tail, pidFile, type Started } from './processes';

const USAGE = `Usage: berth <command> [options]

Commands:
  up [--timeout S]               start Postgres/Redis if needed, then every Berth process in the background;
                                 returns when the API answers GET /_ping
  down [--all] [--timeout S]     stop the processes (reverse order); --all also stops Berth-owned Postgres/Redis
  status                         processes, Postgres, Redis and the API; exit 1 when something is down
  logs [service] [-f] [-n N]     print (or follow) the logs in <data-root>/logs
  config                         print the resolved configuration as JSON
  migrate                        run each service's migrations (services/<name>/dist/migrate.js)
  projections rebuild [service]  rebuild projections from events (services/<name>/dist/rebuild.js)
  test [args]                    run the whole test suite (scripts/test.sh)

Configuration: /etc/berth/berth.json, or the file named by BERTH_CONFIG; BERTH_* variables override keys.`;

const say = (msg: string) => process.stderr.write(`berth: ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function firstSocket(c: BerthConfig): string | null {
  return unixSockets(c)[0] ?? null;
}

async function cmdUp(c: BerthConfig, args: ParsedArgs): Promise<number> {
  const timeoutMs = numberFlag(args, 'timeout', 60) * 1000;
  if (process.getuid?.() !== 0) throw new Error('berth up starts the executor, which must run as root: run it as root');
  const socket = firstSocket(c);
  await ensurePostgres(c);
  await ensureRedis(c);
  // Unprivileged services may not be able to read the config file: hand it over inline.
  const env = { ...process.env, ...(c.configFile ? { BERTH_CONFIG_JSON: readFileSync(c.configFile, 'utf8') } : {}) };
  const started = new Map<string, Started>();
  for (const spec of PROCESSES) {
    const st = processState(c, spec);
    if (st.alive) {
      say(`${spec.name} already running (pid ${st.pid})`);
      continue;
    }
    if (st.pid !== null) removePidFile(c, spec.name);
    const s = startProcess(c, spec, env);
    started.set(spec.name, s);
    say(`started ${spec.name} (pid ${s.pid}, log ${logFile(c, spec.name)})`);
  }
  if (!socket) {
    say('no unix:// socket in "hosts": not waiting for the API');
    return 0;
  }
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    for (const [name, s] of started) {
      if (s.exited || !isAlive(s.pid)) {
        const how = s.exited ? (s.exited.signal ? `signal ${s.exited.signal}` : `exit code ${s.exited.code}`) : 'exited';
        removePidFile(c, name);
        const log = logFile(c, name);
        process.stderr.write(`${tail(log, 20)}\n`);
        throw new Error(`${name} stopped during start-up (${how}); see ${log} (berth logs ${name}); stop the rest with: berth down`);
      }
    }
    const r = await ping(socket, 1000);
    if (r.ok) {
      say(`Berth is up: unix://${socket} (${r.detail})`);
      return 0;
    }
    last = r.detail;
    await sleep(200);
  }
  throw new Error(
    `the API did not answer GET /_ping on ${socket} within ${timeoutMs / 1000}s (last: ${last}); ` +
      `see the logs in ${c.logDir} (berth logs gateway); stop with: berth down`,
  );
}

async function cmdDown(c: BerthConfig, args: ParsedArgs): Promise<number> {
  const timeoutMs = numberFlag(args, 'timeout', 15) * 1000;
  for (const spec of [...PROCESSES].reverse()) {
    const pid = readPid(pidFile(c, spec.name));
    if (pid === null) continue;
    const how = await stopPid(pid, spec.main, timeoutMs);
    say(how === 'gone' ? `${spec.name} was not running` : `${how} ${spec.name} (pid ${pid})`);
    removePidFile(c, spec.name);
  }
  if (flag(args, 'all')) {
    if (!(await stopOwnedRedis(c))) say('no Berth-owned Redis running');
    if (!(await stopOwnedPostgres(c))) say('no Berth-owned Postgres running');
  }
  return 0;
}

async function cmdStatus(c: BerthConfig): Promise<number> {
  let ok = true;
  const line = (name: string, up: boolean, detail: string) => {
    if (!up) ok = false;
    process.stdout.write(`${name.padEnd(11)} ${(up ? 'up' : 'DOWN').padEnd(5)} ${detail}\n`);
  };
  for (const spec of PROCESSES) {
    const st = processState(c, spec);
    line(spec.name, st.alive, st.pid === null ? 'no pid file' : `pid ${st.pid}${st.alive ? '' : ' (not running)'}`);
  }
  const pgErr = await postgresCheck(c.postgresUrl);
  line('postgres', pgErr === null, `${redact(c.postgresUrl)}${ownedPostgresRunning(c) ? ' (Berth-owned)' : ''}${pgErr ? `: ${pgErr}` : ''}`);
  const redisErr = await redisCheck(c.redisUrl);
  line('redis', redisErr === null, `${redact(c.redisUrl)}${ownedRedisRunning(c) ? ' (Berth-owned)' : ''}${redisErr ? `: ${redisErr}` : ''}`);
  const socket = firstSocket(c);
  if (socket) {
    const r = await ping(socket);
    line('api', r.ok, `unix://${socket} ${r.detail}`);
  } else {
    line('api', true, 'no unix:// socket in "hosts": not checked');
  }
  return ok ? 0 : 1;
}

async function cmdLogs(c: BerthConfig, args: ParsedArgs): Promise<number> {
  const which = args.positionals[1];
  const known = [...PROCESSES.map((p) => p.name), 'postgres', 'redis'];
  if (which && !known.includes(which)) throw new UsageError(`unknown service "${which}" (one of: ${known.join(', ')})`);
  const files = (which ? [which] : PROCESSES.map((p) => p.name)).map((n) => logFile(c, n)).filter((f) => existsSync(f));
  if (!files.length) {
    say(`no logs yet in ${c.logDir}`);
    return which ? 1 : 0;
  }
  const n = String(numberFlag(args, 'n', flag(args, 'f', 'follow') ? 50 : 200));
  const tailArgs = ['-n', n, ...(flag(args, 'f', 'follow') ? ['-F'] : []), ...(files.length === 1 ? ['-q'] : []), ...files];
  const child = spawn('tail', tailArgs, { stdio: 'inherit' });
  return new Promise((resolve) => {
    process.on('SIGINT', () => child.kill('SIGTERM'));
    child.on('exit', (code) => resolve(code ?? 0));
  });
}

function runNode(script: string, label: string): boolean {
  say(`${label}: node ${script.slice(repoRoot.length + 1)}`);
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit', cwd: repoRoot, env: process.env });
  if (r.status !== 0) {
    say(`${label} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.status}`})`);
    return false;
  }
  return true;
}

async function cmdMigrate(c: BerthConfig): Promise<number> {
  await ensurePostgres(c);
  let ok = true;
  let any = false;
  for (const s of SERVICES) {
    const script = serviceScript(s, 'migrate.js');
    if (!script) continue;
    any = true;
    ok = runNode(script, `migrate ${s}`) && ok;
  }
  if (!any) say('no service has a dist/migrate.js (each service also migrates when it starts)');
  return ok ? 0 : 1;
}

async function cmdProjections(args: ParsedArgs): Promise<number> {
  if (args.positionals[1] !== 'rebuild') throw new UsageError('usage: berth projections rebuild [service]');
  const which = args.positionals[2];
  if (which && !(SERVICES as readonly string[]).includes(which)) {
    throw new UsageError(`unknown service "${which}" (one of: ${SERVICES.join(', ')})`);
  }
  const services: readonly string[] = which ? [which] : DOMAIN_SERVICES;
  let ok = true;
  let any = false;
  for (const s of services) {
    const script = serviceScript(s, 'rebuild.js');
    if (!script) {
      if (which) say(`services/${s}/dist/rebuild.js does not exist`);
      continue;
    }
    any = true;
    ok = runNode(script, `rebuild ${s}`) && ok;
  }
  if (!any && !which) say('no service has a dist/rebuild.js yet');
  return ok && (any || !which) ? 0 : 1;
}

function cmdTest(argv: string[]): Promise<number> {
  const child = spawn(join(repoRoot, 'scripts', 'test.sh'), argv, { stdio: 'inherit', cwd: repoRoot, env: process.env });
  return new Promise((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['timeout', 'n']);
  const cmd = args.positionals[0];
  if (!cmd || cmd === 'help' || (flag(args, 'help', 'h') && cmd !== 'test')) {
    process.stdout.write(`${USAGE}\n`);
    return cmd || flag(args, 'help', 'h') ? 0 : 2;
  }
  let config: BerthConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`berth: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  switch (cmd) {
    case 'up':
      return cmdUp(config, args);
    case 'down':
      return cmdDown(config, args);
    case 'status':
      return cmdStatus(config);
    case 'logs':
      return cmdLogs(config, args);
    case 'config':
      process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      return 0;
    case 'migrate':
      return cmdMigrate(config);
    case 'projections':
      return cmdProjections(args);
    case 'test':
      return cmdTest(argv.slice(argv.indexOf('test') + 1));
    default:
      throw new UsageError(`unknown command "${cmd}" (see: berth help)`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`berth: ${e.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`berth: error: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
