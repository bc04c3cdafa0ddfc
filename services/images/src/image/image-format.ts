/**
 * Pure helpers: chain IDs, manifests rebuilt from a stored image, Docker's progress bar text, import
 * `changes`, and list filters.
 */
import { type ImageContainerConfig, type ImageView, invalid, type StoredLayer } from '@berth/contracts';
import { MediaType, sha256 } from '@berth/oci';

export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length ? sha256(`${out[out.length - 1]} ${d}`) : d);
  return out;
}

export const shortId = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/**
 * The manifest Berth pushes and saves for an image: Docker schema2 when every layer is a Docker gzip
 * layer and the config is Docker's, else OCI (uncompressed or zstd layers from `load`).
 */
export function buildManifest(image: { id: string; configJson: string; configMediaType: string; layers: readonly StoredLayer[] }): {
  bytes: Buffer;
  mediaType: string;
} {
  const docker =
    image.configMediaType !== MediaType.OciConfig && image.layers.every((l) => l.mediaType === MediaType.DockerLayerGzip);
  const ociLayer = (mt: string) => (mt === MediaType.DockerLayerGzip ? MediaType.OciLayerGzip : mt);
  const mediaType = docker ? MediaType.DockerManifest : MediaType.OciManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig,
      digest: image.id,
      size: Buffer.byteLength(image.configJson),
    },
    layers: image.layers.map((l) => ({ mediaType: docker ? l.mediaType : ociLayer(l.mediaType), digest: l.digest, size: l.size })),
  };
  return { bytes: Buffer.from(JSON.stringify(manifest, null, 3)), mediaType };
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];
/** go-units HumanSize (decimal, 3 significant digits). */
export function humanSize(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${UNITS[i]}`;
}

/** Docker's progress text: `[=====>      ]  1.2MB/3.4MB`. */
export function progressBar(current: number, total: number): string {
  if (!total || total <= 0) return humanSize(current);
  const width = 50;
  const filled = Math.max(0, Math.min(width, Math.floor((current / total) * width)));
  const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? (filled === width ? '=' : '>') : '') + ' '.repeat(width - filled);
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/** Applies Dockerfile-like `changes` (docker import -c) to a config. */
export function applyChanges(config: Record<string, unknown>, changes: readonly string[]): ImageContainerConfig {
  const c: Record<string, unknown> = { ...config };
  const list = (rest: string): string[] => {
    const t = rest.trim();
    if (t.startsWith('[')) {
      try {
        const v = JSON.parse(t) as unknown;
        if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
      } catch {
        /* shell form */
      }
    }
    return ['/bin/sh', '-c', t];
  };
  const pairs = (rest: string): Array<[string, string]> => {
    const t = rest.trim();
    if (!t.includes('=')) {
      const i = t.search(/\s/);
      return i < 0 ? [[t, '']] : [[t.slice(0, i), t.slice(i).trim()]];
    }
    const out: Array<[string, string]> = [];
    for (const m of t.matchAll(/([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      out.push([m[1], m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2]]);
    }
    return out;
  };
  for (const raw of changes) {
    for (const line of raw.split('\n')) {
      const trimmed = line.trim();
      if (!trimmed) continue;
      const i = trimmed.search(/\s/);
      const word = (i < 0 ? trimmed : trimmed.slice(0, i)).toUpperCase();
      const rest = i < 0 ? '' : trimmed.slice(i + 1);
      switch (word) {
        case 'CMD':
          c.Cmd = list(rest);
          break;
        case 'ENTRYPOINT':
          c.Entrypoint = list(rest);
          break;
        case 'ENV': {
          const env = [...((c.Env as string[] | undefined) ?? [])];
          for (const [k, v] of pairs(rest)) {
            const at = env.findIndex((e) => e.split('=')[0] === k);
            if (at >= 0) env[at] = `${k}=${v}`;
            else env.push(`${k}=${v}`);
          }
          c.Env = env;
          break;
        }
        case 'LABEL': {
          const labels = { ...((c.Labels as Record<string, string> | undefined) ?? {}) };
          for (const [k, v] of pairs(rest)) labels[k.replace(/^"|"$/g, '')] = v;
          c.Labels = labels;
          break;
        }
        case 'EXPOSE': {
          const ports = { ...((c.ExposedPorts as Record<string, object> | undefined) ?? {}) };
          for (const p of rest.trim().split(/\s+/)) if (p) ports[p.includes('/') ? p : `${p}/tcp`] = {};
          c.ExposedPorts = ports;
          break;
        }
        case 'VOLUME': {
          const vols = { ...((c.Volumes as Record<string, object> | undefined) ?? {}) };
          const t = rest.trim();
          const paths = t.startsWith('[') ? (JSON.parse(t) as string[]) : t.split(/\s+/);
          for (const p of paths) if (p) vols[p] = {};
          c.Volumes = vols;
          break;
        }
        case 'USER':
          c.User = rest.trim();
          break;
        case 'WORKDIR':
          c.WorkingDir = rest.trim();
          break;
        case 'STOPSIGNAL':
          c.StopSignal = rest.trim();
          break;
        default:
          throw invalid(`${word} is not a valid change command`);
      }
    }
  }
  return c as ImageContainerConfig;
}

/** Go's path.Match subset Docker uses for `reference` filters (`*`, `?`, `[...]`). */
function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += '[' + pattern.slice(i + 1, end).replace(/^!/, '^') + ']';
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Docker's reference filter: the pattern matches a familiar `name:tag`, or the name alone when the
 * pattern has no tag part.
 */
export function matchesReference(image: ImageView, pattern: string): boolean {
  const re = globToRegExp(pattern);
  const lastColon = pattern.lastIndexOf(':');
  const hasTag = lastColon > pattern.lastIndexOf('/');
  for (const tag of image.repoTags) {
    const name = tag.slice(0, tag.lastIndexOf(':'));
    if (re.test(tag) || (!hasTag && re.test(name))) return true;
    // `busybox` also matches `docker.io/library/busybox` written out.
    if (!hasTag && re.test(`docker.io/library/${name}`)) return true;
  }
  for (const d of image.repoDigests) {
    if (re.test(d) || (!hasTag && re.test(d.slice(0, d.indexOf('@'))))) return true;
  }
  return false;
}

export function matchesLabels(image: ImageView, wanted: readonly string[]): boolean {
  return wanted.every((w) => {
    const i = w.indexOf('=');
    if (i < 0) return Object.prototype.hasOwnProperty.call(image.labels, w);
    return image.labels[w.slice(0, i)] === w.slice(i + 1);
  });
}
