import { ErrorCode, type DomainError, type VolumeEvent } from '@berth/contracts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, fold, type VolumeCommand } from './volume.decider';

const create = (name = 'data', over: Partial<Extract<VolumeCommand, { type: 'CreateVolume' }>> = {}): VolumeCommand => ({
  type: 'CreateVolume',
  name,
  driver: 'local',
  mountpoint: `/var/lib/berth/volumes/${name}/_data`,
  labels: {},
  options: {},
  anonymous: false,
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

describe('volume decider', () => {
  it('given nothing, when created, then VolumeCreated', () => {
    const events = decide(create(), fold([]));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'VolumeCreated');
  });

  it('given a volume, when created again, then nothing (idempotent like Docker)', () => {
    const given = decide(create(), fold([])) as VolumeEvent[];
    assert.deepEqual(decide(create(), fold(given)), []);
  });

  it('refuses names Docker refuses, with its wording', () => {
    assert.equal(code(() => decide(create('a'), fold([]))), ErrorCode.InvalidArgument);
    assert.throws(() => decide(create('has space'), fold([])), /includes invalid characters for a local volume name/);
    assert.equal(code(() => decide(create('ok', { driver: 'nfs' }), fold([]))), ErrorCode.NotFound);
    assert.throws(() => decide(create('ok', { options: { bogus: '1' } }), fold([])), /invalid option key: "bogus"/);
  });

  it('given a volume, when removed, then VolumeRemoved; in use is a conflict', () => {
    const given = decide(create(), fold([])) as VolumeEvent[];
    const removed = decide({ type: 'RemoveVolume', name: 'data', inUseBy: [], force: false }, fold(given));
    assert.equal(removed[0]!.type, 'VolumeRemoved');
    assert.equal(fold([...given, ...removed]).status, 'absent');
    assert.equal(
      code(() => decide({ type: 'RemoveVolume', name: 'data', inUseBy: ['abc'], force: false }, fold(given))),
      ErrorCode.Conflict,
    );
  });

  it('removing a missing volume is 404 unless forced', () => {
    assert.throws(() => decide({ type: 'RemoveVolume', name: 'x1', inUseBy: [], force: false }, fold([])), /get x1: no such volume/);
    assert.deepEqual(decide({ type: 'RemoveVolume', name: 'x1', inUseBy: [], force: true }, fold([])), []);
  });

  it('mount references: a mounted volume is in use until its container unmounts it; mounting is idempotent', () => {
    let events = decide(create(), fold([])) as VolumeEvent[];
    const mount = { type: 'MountVolume', name: 'data', containerId: 'c1', destination: '/d', readonly: false } as const;
    events = [...events, ...decide(mount, fold(events))];
    assert.equal(events.at(-1)!.type, 'VolumeMounted');
    assert.deepEqual(decide(mount, fold(events)), []);
    assert.throws(() => decide({ type: 'RemoveVolume', name: 'data', inUseBy: [], force: true }, fold(events)), /remove data: volume is in use - \[c1\]/);
    events = [...events, ...decide({ type: 'UnmountVolume', name: 'data', containerId: 'c1' }, fold(events))];
    assert.equal(events.at(-1)!.type, 'VolumeUnmounted');
    assert.equal(decide({ type: 'RemoveVolume', name: 'data', inUseBy: [], force: false }, fold(events))[0]!.type, 'VolumeRemoved');
    assert.throws(() => decide({ ...mount, name: 'nope' }, fold([])), /no such volume/);
  });
});
