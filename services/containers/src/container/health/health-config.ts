import { type HealthConfig, invalid } from '@berth/contracts';

/**
 * moby's merge of the request's Healthcheck with the image's (daemon/commit.go): no request check
 * takes the image's; a request check inherits each unset (empty/0) field from the image's.
 */
export function mergeHealthcheck(user: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!user) return image ?? undefined;
  if (!image) return user;
  return {
    ...user,
    Test: user.Test?.length ? user.Test : image.Test,
    Interval: user.Interval || image.Interval,
    Timeout: user.Timeout || image.Timeout,
    StartPeriod: user.StartPeriod || image.StartPeriod,
    StartInterval: user.StartInterval || image.StartInterval,
    Retries: user.Retries || image.Retries,
  };
}

/** moby's validateHealthCheck wording: durations are 0 (default) or at least 1ms; Retries >= 0. */
export function validateHealthcheck(hc: HealthConfig | null | undefined): void {
  if (!hc) return;
  const MIN_NS = 1_000_000;
  for (const [field, v] of [
    ['Interval', hc.Interval],
    ['Timeout', hc.Timeout],
    ['StartPeriod', hc.StartPeriod],
    ['StartInterval', hc.StartInterval],
  ] as const) {
    if (v !== undefined && v !== null && v !== 0 && (typeof v !== 'number' || v < MIN_NS)) {
      throw invalid(`${field} in Healthcheck cannot be less than 1ms`);
    }
  }
  if (typeof hc.Retries === 'number' && hc.Retries < 0) throw invalid('Retries in Healthcheck cannot be negative');
  const kind = hc.Test?.[0];
  if (kind !== undefined && !['NONE', 'CMD', 'CMD-SHELL'].includes(kind) && hc.Test!.length > 0) {
    throw invalid(`unknown healthcheck type '${kind}' (expected NONE, CMD or CMD-SHELL)`);
  }
}
