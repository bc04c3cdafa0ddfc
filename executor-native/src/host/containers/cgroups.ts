import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * Every pid in a group and its descendants (a container may make sub-groups in its cgroup ns).
 * v1: the union over the hierarchies that have the group; v2: the unified tree.
 */
export function listCgroupPids(path: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    try {
      for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.add(Number(l));
    } catch {
      /* not a group */
    }
    for (const e of entries) {
      const sub = join(dir, e);
      try {
        if (statSync(sub).isDirectory()) walk(sub);
      } catch {
        /* raced with rmdir */
      }
    }
  };
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync(CGROUP_ROOT);
  } catch {
    return [];
  }
  if (hierarchies.includes('cgroup.procs')) walk(join(CGROUP_ROOT, path));
  else for (const h of hierarchies) walk(join(CGROUP_ROOT, h, path));
  return [...pids];
}
