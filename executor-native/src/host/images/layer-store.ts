import { DomainError, ErrorCode } from '@berth/contracts';
import { ContentStore, digestHex, type UnpackOptions } from '@berth/oci';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The image disk layout under the data root:
 *   blobs/sha256/<hex>       verified blobs (ContentStore; partial downloads in ingest/)
 *   layers/<chainID hex>/    one unpacked layer = one overlayfs lower dir; present only when complete
 *   layers/.tmp/<…>          layers being unpacked (renamed into place when verified)
 *   tmp/                     upload/download archives handed between gateway and executor
 */
/** build/berth-unpack (src/unpack/), next to berth-init and berth-shim. */
export const defaultUnpackerPath = () => join(__dirname, '..', '..', '..', 'build', 'berth-unpack');

export class LayerStore {
  readonly blobs: ContentStore;
  /** How layers are unpacked: by berth-unpack when it is built, else by @berth/oci's tar-stream path. */
  readonly unpackOptions: UnpackOptions;

  constructor(
    readonly dataRoot: string,
    nativeUnpacker: string | undefined = existsSync(defaultUnpackerPath()) ? defaultUnpackerPath() : undefined,
  ) {
    this.blobs = new ContentStore(dataRoot);
    this.unpackOptions = nativeUnpacker ? { nativeUnpacker } : {};
  }

  layerDir(chainId: string): string {
    return join(this.dataRoot, 'layers', digestHex(chainId));
  }

  async hasLayer(chainId: string): Promise<boolean> {
    try {
      return (await stat(this.layerDir(chainId))).isDirectory();
    } catch {
      return false;
    }
  }

  /** A fresh scratch directory path for one unpack (not created: unpackLayer creates it). */
  async scratch(chainId: string): Promise<string> {
    const dir = join(this.dataRoot, 'layers', '.tmp');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return join(dir, `${digestHex(chainId)}-${randomBytes(4).toString('hex')}`);
  }

  /** Publishes an unpacked scratch dir as the layer; a concurrent winner keeps its copy. */
  async commitLayer(scratch: string, chainId: string): Promise<void> {
    const dest = this.layerDir(chainId);
    try {
      await rename(scratch, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        await rm(scratch, { recursive: true, force: true });
        return;
      }
      throw e;
    }
  }

  /** A path for a temp archive under `<data-root>/tmp`, refusing anything outside it. */
  checkTmpPath(path: string): string {
    const tmp = join(this.dataRoot, 'tmp') + '/';
    if (!path.startsWith(tmp) || path.includes('/../') || path.includes('\0')) {
      throw new DomainError(ErrorCode.InvalidArgument, `archive path ${JSON.stringify(path)} is outside ${tmp}`);
    }
    return path;
  }
}
