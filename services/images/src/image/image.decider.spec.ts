import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageRecord } from '@berth/contracts';
import { decide, fold, initialImageState } from './image.decider';

const record: ImageRecord = {
  id: 'sha256:' + 'a'.repeat(64),
  configJson: '{}',
  configMediaType: 'application/vnd.docker.container.image.v1+json',
  layers: [{ digest: 'sha256:' + 'b'.repeat(64), size: 10, mediaType: 'x', diffId: 'sha256:' + 'c'.repeat(64), chainId: 'sha256:' + 'c'.repeat(64), unpackedSize: 20 }],
};

describe('image decider (given events / when command / then events)', () => {
  it('a pull records the image with its tag and digest; a second pull is a fact too', () => {
    const pulled = decide({ type: 'RecordPulled', record, reference: 'x:1', repoTag: 'x:1', repoDigest: 'x@sha256:1' }, initialImageState);
    assert.deepEqual(pulled.map((e) => e.type), ['ImagePulled']);
    const state = fold(pulled);
    assert.equal(state.status, 'present');
    assert.deepEqual(state.status === 'present' && state.repoTags, ['x:1']);
    const again = decide({ type: 'RecordPulled', record, reference: 'x:1', repoTag: 'x:1', repoDigest: 'x@sha256:1' }, state);
    assert.equal(again.length, 1);
    assert.deepEqual(fold([...pulled, ...again]), state);
  });

  it('untag only what is there; delete carries the chain ids; tag of an absent image is NotFound', () => {
    const state = fold(decide({ type: 'RecordLoaded', record, repoTags: ['x:1', 'y:2'] }, initialImageState));
    assert.deepEqual(decide({ type: 'Untag', repoTag: 'z:1' }, state), []);
    const untag = decide({ type: 'Untag', repoTag: 'x:1' }, state);
    assert.deepEqual(untag.map((e) => e.type), ['ImageUntagged']);
    const del = decide({ type: 'Delete' }, state);
    assert.deepEqual(del[0].data, { id: record.id, chainIds: [record.layers[0].chainId] });
    assert.deepEqual(fold([...decide({ type: 'RecordLoaded', record, repoTags: [] }, initialImageState), ...del]), initialImageState);
    assert.throws(() => decide({ type: 'Tag', repoTag: 'x:1' }, initialImageState), /No such image/);
  });
});
