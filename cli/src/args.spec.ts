import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flag, numberFlag, parseArgs, UsageError } from './args';
import { hostPort, redact } from './net';
import { parsePid } from './processes';
import { PROCESSES } from './layout';

test('parseArgs: positionals, long and short flags, valued flags', () => {
  const a = parseArgs(['logs', 'gateway', '-f', '--timeout', '5', '--all', '--n=20'], ['timeout']);
  assert.deepEqual(a.positionals, ['logs', 'gateway']);
  assert.equal(a.flags.get('timeout'), '5');
  assert.equal(a.flags.get('n'), '20');
  assert.ok(flag(a, 'f'));
  assert.ok(flag(a, 'all'));
  assert.equal(numberFlag(a, 'timeout', 60), 5);
  assert.equal(numberFlag(a, 'missing', 60), 60);
  assert.throws(() => numberFlag(parseArgs(['--timeout=x']), 'timeout', 1), UsageError);
});

test('parseArgs: a valued short flag takes the next argument', () => {
  const a = parseArgs(['logs', '-n', '40', '-f'], ['n']);
  assert.deepEqual(a.positionals, ['logs']);
  assert.equal(a.flags.get('n'), '40');
  assert.ok(flag(a, 'f'));
});

test('parseArgs: everything after -- is positional', () => {
  assert.deepEqual(parseArgs(['test', '--', '--x', '-y']).positionals, ['test', '--x', '-y']);
});

test('hostPort and redact', () => {
  assert.deepEqual(hostPort('postgres://postgres@127.0.0.1:5432/berth', 5432), { host: '127.0.0.1', port: 5432 });
  assert.deepEqual(hostPort('redis://db.local/0', 6379), { host: 'db.local', port: 6379 });
  assert.equal(redact('postgres://u:secret@h/db'), 'postgres://u:***@h/db');
});

test('parsePid', () => {
  assert.equal(parsePid('1234\n'), 1234);
  assert.equal(parsePid('nope'), null);
  assert.equal(parsePid('1'), null);
  assert.equal(parsePid('4321\n/var/lib/berth/postgres\n1700000000\n5432\n'), 4321);
});

test('start order: executor first, gateway last; the executor and the gateway run as root, domain services do not', () => {
  assert.equal(PROCESSES[0].name, 'executor');
  assert.equal(PROCESSES.at(-1)?.name, 'gateway');
  assert.deepEqual(PROCESSES.filter((p) => p.privileged).map((p) => p.name), ['executor', 'gateway']);
});
