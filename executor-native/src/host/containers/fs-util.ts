import { readdirSync } from 'node:fs';

/** A directory's entries; none when it is missing or unreadable. */
export function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
