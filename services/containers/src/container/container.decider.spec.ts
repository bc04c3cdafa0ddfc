import { type ContainerCreatedData, type ContainerEvent, type DomainError, ErrorCode, type ExecView, ZERO_TIME } from '@berth/contracts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContainerCommand, decide, EXITED_EXECS_KEPT, fold } from './container.decider';
import { toContainerView } from './container-view';

const data = (over: Partial<ContainerCreatedData> = {}): ContainerCreatedData => ({
  id: 'a'.repeat(64),
  name: 'web',
  created: '2024-01-01T00:00:00Z',
  image: 'busybox',
  imageId: 'sha256:x',
  path: 'sh',
  args: [],
  config: { Image: 'busybox' },
  hostConfig: {},
  mounts: [],
  logPath: '/l',
  layerDirs: [],
  ...over,
});
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as DomainError).code;
  }
  return 'no error';
};
const given = (...commands: ContainerCommand[]) =>
  commands.reduce<ContainerEvent[]>((events, c) => [...events, ...decide(c, fold(events))], []);
const execView: ExecView = {
  id: 'e', containerId: 'a'.repeat(64), running: false, exitCode: null, pid: 0, openStdin: false, openStdout: true,
  openStderr: true, tty: false, privileged: false, user: '', entrypoint: 'true', arguments: [], workingDir: '', env: [], detachKeys: '',
};
const started: ContainerCommand = { type: 'RecordStarted', pid: 7, startedAt: '2024-01-01T00:00:01Z', restart: false };

describe('container decider', () => {
  it('given nothing, when created, then ContainerCreated in state created', () => {
    const events = given({ type: 'Create', data: data() });
    assert.deepEqual(events.map((e) => e.type), ['ContainerCreated']);
    assert.equal(fold(events)!.status, 'created');
    assert.equal(fold(events)!.startedAt, ZERO_TIME);
  });

  it('refuses names with spaces with Docker wording', () => {
    assert.throws(() => decide({ type: 'Create', data: data({ name: 'has space' }) }, null), /Invalid container name \(has space\)/);
  });

  it('start of a running container is 304; exit of another run is ignored; exit counts', () => {
    const events = given({ type: 'Create', data: data() }, started);
    assert.equal(code(() => decide({ type: 'CheckStart' }, fold(events))), ErrorCode.NotModified);
    const stale = { type: 'RecordExited', exitCode: 1, oomKilled: false, finishedAt: 'x', startedAt: 'other', restarting: false, byUser: false } as const;
    assert.deepEqual(decide(stale, fold(events)), []);
    const exited = [...events, ...decide({ ...stale, startedAt: '2024-01-01T00:00:01Z' }, fold(events))];
    assert.equal(fold(exited)!.status, 'exited');
    assert.equal(fold(exited)!.exitCount, 1);
    assert.deepEqual(decide({ ...stale, startedAt: '2024-01-01T00:00:01Z' }, fold(exited)), [], 'redelivered exit');
  });

  it('a restart policy exit goes to restarting; rm of a running container needs force', () => {
    const events = given({ type: 'Create', data: data() }, started);
    assert.equal(code(() => decide({ type: 'BeginRemoval', force: false }, fold(events))), ErrorCode.Conflict);
    const r = decide(
      { type: 'RecordExited', exitCode: 1, oomKilled: false, finishedAt: 'x', startedAt: '', restarting: true, byUser: false },
      fold(events),
    );
    assert.deepEqual(r.map((e) => e.type), ['ContainerExited', 'ContainerRestarting']);
    assert.equal(fold([...events, ...r])!.status, 'restarting');
    assert.equal(fold([...events, ...r])!.restartCount, 1);
  });

  it('removal ends the stream state', () => {
    const events = given({ type: 'Create', data: data() }, { type: 'BeginRemoval', force: false }, { type: 'RecordRemoved' });
    assert.deepEqual(events.map((e) => e.type), ['ContainerCreated', 'ContainerRemovalStarted', 'ContainerRemoved']);
    assert.equal(fold(events), null);
  });

  it('an exited exec leaves ExecIDs but stays inspectable; only the newest exited execs are kept', () => {
    const exec = (n: number): ExecView => ({ ...execView, id: `e${n}` });
    const run = (n: number): ContainerCommand[] => [
      { type: 'CreateExec', exec: exec(n) },
      { type: 'RecordExecStarted', execId: `e${n}`, pid: 100 + n },
      { type: 'RecordExecExited', execId: `e${n}`, exitCode: n % 2 },
    ];
    const base = given({ type: 'Create', data: data() }, started, { type: 'CreateExec', exec: exec(0) });
    assert.deepEqual(toContainerView(fold(base)!).execIds, ['e0'], 'created, not started: listed');
    const commands = Array.from({ length: EXITED_EXECS_KEPT + 3 }, (_, i) => run(i + 1)).flat();
    const events = commands.reduce<ContainerEvent[]>((acc, c) => [...acc, ...decide(c, fold(acc))], base);
    const s = fold(events)!;
    assert.deepEqual(toContainerView(s).execIds, ['e0'], 'exited execs are not listed');
    assert.equal(Object.values(s.execs).filter((e) => e.exitCode !== null).length, EXITED_EXECS_KEPT);
    assert.equal(s.execs.e1, undefined, 'the oldest exit went');
    assert.equal(s.execs[`e${EXITED_EXECS_KEPT + 3}`]!.exitCode, (EXITED_EXECS_KEPT + 3) % 2);
    assert.ok(s.execs.e0, 'a created exec is never dropped');
    assert.deepEqual(decide({ type: 'RecordExecExited', execId: 'e1', exitCode: 0 }, s), [], 'a redelivered exit of a dropped exec');
  });

  it("the container's exit drops its never started execs and keeps the others, a running one as killed", () => {
    const exec = (id: string): ExecView => ({ ...execView, id });
    const s = fold(
      given(
        { type: 'Create', data: data() },
        started,
        { type: 'CreateExec', exec: exec('done') },
        { type: 'RecordExecStarted', execId: 'done', pid: 11 },
        { type: 'RecordExecExited', execId: 'done', exitCode: 3 },
        { type: 'CreateExec', exec: exec('busy') },
        { type: 'RecordExecStarted', execId: 'busy', pid: 12 },
        { type: 'CreateExec', exec: exec('idle') },
        { type: 'RecordExited', exitCode: 0, oomKilled: false, finishedAt: 'x', startedAt: '2024-01-01T00:00:01Z', restarting: false, byUser: true },
      ),
    )!;
    assert.deepEqual(Object.keys(s.execs).sort(), ['busy', 'done']);
    assert.equal(s.execs.done!.exitCode, 3);
    assert.deepEqual([s.execs.busy!.running, s.execs.busy!.exitCode], [false, 137]);
    assert.deepEqual(toContainerView(s).execIds, []);
  });
});
