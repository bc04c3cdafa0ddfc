import { type ImageEvent, type ImageRecord, notFound } from '@berth/contracts';

/** One image's state, folded from its stream `image:<id hex>`. */
export type ImageState =
  | { readonly status: 'absent' }
  | (ImageRecord & {
      readonly status: 'present';
      readonly repoTags: readonly string[];
      readonly repoDigests: readonly string[];
    });

export const initialImageState: ImageState = { status: 'absent' };

export type ImageCommand =
  | { readonly type: 'RecordPulled'; readonly record: ImageRecord; readonly reference: string; readonly repoTag?: string; readonly repoDigest: string }
  | { readonly type: 'RecordLoaded'; readonly record: ImageRecord; readonly repoTags: string[] }
  | { readonly type: 'RecordImported'; readonly record: ImageRecord; readonly repoTag?: string; readonly source: string }
  | { readonly type: 'Tag'; readonly repoTag: string }
  | { readonly type: 'Untag'; readonly repoTag: string }
  | { readonly type: 'RecordPushed'; readonly reference: string; readonly repoDigest: string; readonly size: number }
  | { readonly type: 'RecordSaved'; readonly names: string[] }
  | { readonly type: 'Delete' };

export const imageStreamId = (id: string) => `image:${id.replace(/^sha256:/, '')}`;

const V = 1;

/** Pure: the events a command produces on one image. Empty = nothing changes. */
export function decide(command: ImageCommand, state: ImageState): ImageEvent[] {
  switch (command.type) {
    case 'RecordPulled':
      // Every pull is a fact (Docker reports `pull` each time), even of an image already present.
      return [
        {
          type: 'ImagePulled',
          schemaVersion: V,
          data: {
            ...command.record,
            reference: command.reference,
            repoDigest: command.repoDigest,
            ...(command.repoTag ? { repoTag: command.repoTag } : {}),
          },
        },
      ];
    case 'RecordLoaded':
      return [{ type: 'ImageLoaded', schemaVersion: V, data: { ...command.record, repoTags: command.repoTags } }];
    case 'RecordImported':
      return [
        {
          type: 'ImageImported',
          schemaVersion: V,
          data: { ...command.record, source: command.source, ...(command.repoTag ? { repoTag: command.repoTag } : {}) },
        },
      ];
    case 'Tag':
      if (state.status === 'absent') throw notFound(`No such image: ${command.repoTag}`);
      // Docker reports a `tag` event even when the tag was already there.
      return [{ type: 'ImageTagged', schemaVersion: V, data: { id: state.id, repoTag: command.repoTag } }];
    case 'Untag':
      if (state.status === 'absent' || !state.repoTags.includes(command.repoTag)) return [];
      return [{ type: 'ImageUntagged', schemaVersion: V, data: { id: state.id, repoTag: command.repoTag } }];
    case 'RecordPushed':
      if (state.status === 'absent') throw notFound(`No such image: ${command.reference}`);
      return [{ type: 'ImagePushed', schemaVersion: V, data: { id: state.id, reference: command.reference, repoDigest: command.repoDigest, size: command.size } }];
    case 'RecordSaved':
      if (state.status === 'absent') return [];
      return [{ type: 'ImageSaved', schemaVersion: V, data: { id: state.id, names: command.names } }];
    case 'Delete':
      if (state.status === 'absent') return [];
      return [{ type: 'ImageDeleted', schemaVersion: V, data: { id: state.id, chainIds: state.layers.map((l) => l.chainId) } }];
  }
}

const add = (list: readonly string[], item: string | undefined) => (item && !list.includes(item) ? [...list, item] : list);

function recorded(state: ImageState, record: ImageRecord, tags: string[], digests: string[]): ImageState {
  const base = state.status === 'present' ? state : { repoTags: [] as string[], repoDigests: [] as string[] };
  return {
    status: 'present',
    id: record.id,
    configJson: record.configJson,
    configMediaType: record.configMediaType,
    layers: record.layers,
    repoTags: tags.reduce(add, base.repoTags),
    repoDigests: digests.reduce(add, base.repoDigests),
  };
}

/** Pure fold; total over the event union. */
export function evolve(state: ImageState, event: ImageEvent): ImageState {
  switch (event.type) {
    case 'ImagePulled':
      return recorded(state, event.data, event.data.repoTag ? [event.data.repoTag] : [], [event.data.repoDigest]);
    case 'ImageLoaded':
      return recorded(state, event.data, event.data.repoTags, []);
    case 'ImageImported':
      return recorded(state, event.data, event.data.repoTag ? [event.data.repoTag] : [], []);
    case 'ImageTagged':
      return state.status === 'present' ? { ...state, repoTags: add(state.repoTags, event.data.repoTag) } : state;
    case 'ImageUntagged':
      return state.status === 'present' ? { ...state, repoTags: state.repoTags.filter((t) => t !== event.data.repoTag) } : state;
    case 'ImageDigestRecorded':
    case 'ImagePushed':
      return state.status === 'present' ? { ...state, repoDigests: add(state.repoDigests, event.data.repoDigest) } : state;
    case 'ImageSaved':
      return state;
    case 'ImageDeleted':
      return initialImageState;
  }
}

export const fold = (events: readonly ImageEvent[]) => events.reduce(evolve, initialImageState);
