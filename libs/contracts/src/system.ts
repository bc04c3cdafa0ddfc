/** Request/reply patterns every domain service answers. Pattern = `<service>.<action>`. */
export const SystemPatterns = {
  ping: (service: string) => `${service}.ping`,
  summary: (service: string) => `${service}.summary`,
} as const;

export interface PingReply {
  readonly service: string;
  readonly pid: number;
  readonly startedAt: string;
}

/** `containers.summary` */
export interface ContainersSummary {
  readonly total: number;
  readonly running: number;
  readonly paused: number;
  readonly stopped: number;
}

/** `images.summary` */
export interface ImagesSummary {
  readonly images: number;
}

/** `volumes.summary` / `network.summary` */
export interface CountSummary {
  readonly count: number;
}
