import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The checkout this CLI was built in: cli/dist/layout.js -> ../.. */
export const repoRoot = resolve(__dirname, '..', '..');

export interface ProcessSpec {
  /** name used for the log file, pid file and `berth logs <name>` */
  readonly name: string;
  /** the compiled entry point, relative to the repo root */
  readonly main: string;
  /**
   * Privileged processes run as root: the executor (kernel work) and the gateway (the API socket and the
   * byte streams from shims). Domain services drop to `nobody` (DESIGN: they never touch the kernel).
   */
  readonly privileged: boolean;
}

/** Start order (stop order is the reverse): the executor first, the gateway last. */
export const PROCESSES: readonly ProcessSpec[] = [
  { name: 'executor', main: 'executor-native/dist/main.js', privileged: true },
  { name: 'images', main: 'services/images/dist/main.js', privileged: false },
  { name: 'containers', main: 'services/containers/dist/main.js', privileged: false },
  { name: 'network', main: 'services/network/dist/main.js', privileged: false },
  { name: 'volumes', main: 'services/volumes/dist/main.js', privileged: false },
  { name: 'gateway', main: 'services/gateway/dist/main.js', privileged: true },
];

export const SERVICES = ['gateway', 'images', 'containers', 'network', 'volumes'] as const;
export const DOMAIN_SERVICES = ['images', 'containers', 'network', 'volumes'] as const;

export function serviceScript(service: string, script: string): string | null {
  const p = join(repoRoot, 'services', service, 'dist', script);
  return existsSync(p) ? p : null;
}
