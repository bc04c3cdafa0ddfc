import type { BuildInfo } from './build-info';

/** What this engine is, resolved once at boot (DI token SYSTEM_IDENTITY). */
export interface SystemIdentity {
  readonly build: BuildInfo;
  readonly engineId: string;
  readonly startedAt: Date;
}

export const SYSTEM_IDENTITY = Symbol('SYSTEM_IDENTITY');

export const serverHeader = (build: BuildInfo) => `Berth/${build.version} (linux)`;
