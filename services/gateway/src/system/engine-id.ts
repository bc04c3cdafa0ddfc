import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The engine's ID, generated once and kept in `<data-root>/engine-id` so it survives restarts (dockerd
 * keeps its own in `engine-id` under its data root too).
 */
export function loadEngineId(dataRoot: string): string {
  const file = join(dataRoot, 'engine-id');
  const existing = readId(file);
  if (existing) return existing;
  mkdirSync(dataRoot, { recursive: true, mode: 0o711 });
  try {
    writeFileSync(file, `${randomUUID()}\n`, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  // Whoever won the race wrote it; everyone reads the same one.
  const id = readId(file);
  if (!id) throw new Error(`${file} is empty`);
  return id;
}

function readId(file: string): string | null {
  try {
    const id = readFileSync(file, 'utf8').trim();
    return id || null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
