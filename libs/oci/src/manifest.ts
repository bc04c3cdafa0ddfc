/**
 * Image format (opencontainers/image-spec and Docker schema2): media types, descriptors, manifests,
 * indexes, config, digests, and platform selection from an index or manifest list.
 */
import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from '@berth/contracts';

export const MediaType = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Accept list for manifest requests (what dockerd sends, schema1 included so we can refuse it clearly). */
export const MANIFEST_ACCEPT = [
  MediaType.OciManifest,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
  MediaType.OciIndex,
  MediaType.DockerSchema1Signed,
  'application/json',
];

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  ArgsEscaped?: boolean;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  created?: string;
  author?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [extra: string]: unknown;
}

export const sha256 = (data: Uint8Array | string) => 'sha256:' + createHash('sha256').update(data).digest('hex');

export function digestHex(digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new DomainError(ErrorCode.InvalidArgument, `unsupported digest: ${digest}`);
  }
  return digest.slice(7);
}

export const isIndexMediaType = (mt: string | undefined) => mt === MediaType.OciIndex || mt === MediaType.DockerManifestList;
export const isManifestMediaType = (mt: string | undefined) => mt === MediaType.OciManifest || mt === MediaType.DockerManifest;
export const isSchema1MediaType = (mt: string | undefined) =>
  mt === MediaType.DockerSchema1 || mt === MediaType.DockerSchema1Signed;

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ImageIndex };

/**
 * Parses manifest bytes. The media type comes from the body when present, else from Content-Type.
 * Schema1 is refused with the message a user can act on.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new DomainError(ErrorCode.InvalidArgument, 'invalid manifest: not JSON');
  }
  const ct = contentType?.split(';')[0].trim();
  const mediaType =
    (typeof doc.mediaType === 'string' && doc.mediaType) ||
    (ct && ct !== 'application/json' && ct !== 'text/plain' ? ct : undefined) ||
    (Array.isArray(doc.manifests) ? MediaType.OciIndex : doc.config ? MediaType.OciManifest : undefined);
  if (doc.schemaVersion === 1 || isSchema1MediaType(mediaType)) {
    throw new DomainError(
      ErrorCode.InvalidArgument,
      'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. ' +
        'Suggest the author of the image to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2.',
    );
  }
  if (doc.schemaVersion !== 2) throw new DomainError(ErrorCode.InvalidArgument, 'invalid manifest: unsupported schemaVersion');
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new DomainError(ErrorCode.InvalidArgument, 'invalid manifest list: no manifests');
    for (const d of doc.manifests as Descriptor[]) checkDescriptor(d);
    return { kind: 'index', mediaType: mediaType!, index: doc as unknown as ImageIndex };
  }
  if (isManifestMediaType(mediaType)) {
    const m = doc as unknown as ImageManifest;
    if (!m.config || !Array.isArray(m.layers)) throw new DomainError(ErrorCode.InvalidArgument, 'invalid manifest: missing config or layers');
    checkDescriptor(m.config);
    for (const l of m.layers) checkDescriptor(l);
    return { kind: 'manifest', mediaType: mediaType!, manifest: m };
  }
  throw new DomainError(ErrorCode.InvalidArgument, `unsupported manifest media type: ${mediaType ?? 'unknown'}`);
}

function checkDescriptor(d: Descriptor): void {
  if (!d || typeof d.digest !== 'string' || typeof d.size !== 'number' || d.size < 0) {
    throw new DomainError(ErrorCode.InvalidArgument, 'invalid manifest: bad descriptor');
  }
  digestHex(d.digest);
}

/** `linux/arm64/v8` → {os, architecture, variant}. Docker's platforms.Parse subset with normalization. */
export function parsePlatform(spec: string): Platform {
  const parts = spec.toLowerCase().split('/');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => !p)) {
    throw new DomainError(ErrorCode.InvalidArgument, `"${spec}": unknown operating system or architecture: invalid argument`);
  }
  let [os, arch, variant] = parts;
  if (parts.length === 1) {
    // A lone architecture ("arm64") means linux/<arch>, a lone os ("linux") means the host arch.
    if (KNOWN_OS.has(os)) {
      arch = 'amd64';
    } else {
      arch = os;
      os = 'linux';
    }
  }
  if (!KNOWN_OS.has(os)) {
    throw new DomainError(ErrorCode.InvalidArgument, `"${spec}": unknown operating system or architecture: invalid argument`);
  }
  return normalizePlatform({ os, architecture: arch, ...(variant ? { variant } : {}) });
}

const KNOWN_OS = new Set(['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'aix', 'plan9', 'js', 'wasip1', 'android', 'ios', 'dragonfly']);

/** containerd's normalizeArch. */
export function normalizePlatform(p: Platform): Platform {
  let arch = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = undefined;
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = undefined;
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8') variant = undefined;
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (!variant || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = 'v' + variant;
      break;
  }
  return { os: p.os.toLowerCase(), architecture: arch, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** The host platform in OCI terms (linux/amd64, linux/arm64, ...). */
export function hostPlatform(): Platform {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return normalizePlatform({ os: 'linux', architecture: map[process.arch] ?? process.arch });
}

/**
 * containerd's default matcher: same os and architecture; the variant must match, where a wanted arm
 * variant also accepts lower ones (v7 runs v6 and v5) and arm64 (whose normalized variant is empty
 * for v8) accepts entries without variant. Ordering prefers an exact variant match.
 */
export function selectPlatform(index: ImageIndex, wanted: Platform | string = hostPlatform()): Descriptor {
  const want = typeof wanted === 'string' ? parsePlatform(wanted) : normalizePlatform(wanted);
  let best: { d: Descriptor; rank: number } | undefined;
  for (const d of index.manifests) {
    if (!d.platform) continue;
    if (!isManifestMediaType(d.mediaType) && d.mediaType !== undefined) continue;
    const p = normalizePlatform(d.platform);
    if (p.os !== want.os || p.architecture !== want.architecture) continue;
    let rank: number;
    if ((p.variant ?? '') === (want.variant ?? '')) rank = 0;
    else if (want.architecture === 'arm' && p.variant && want.variant && p.variant < want.variant) {
      rank = 10 - Number(p.variant.slice(1)) / 10 + 1;
    } else if (!want.variant && p.variant && want.architecture !== 'arm') rank = 5;
    else continue;
    if (!best || rank < best.rank) best = { d, rank };
  }
  if (!best) {
    throw new DomainError(
      ErrorCode.NotFound,
      `no matching manifest for ${formatPlatform(want)} in the manifest list entries`,
    );
  }
  return best.d;
}
