import { invalid, type CreateVolumeRequest, type VolumeView } from '@berth/contracts';
import type { Volume, VolumeCreateOptions } from '@berth/docker-api';

/** The volumes service's view -> Docker's `Volume`. */
export function toDockerVolume(view: VolumeView): Volume {
  return {
    Name: view.name,
    Driver: view.driver,
    Mountpoint: view.mountpoint,
    CreatedAt: view.createdAt,
    Labels: view.labels ?? {},
    Scope: view.scope,
    Options: view.options && Object.keys(view.options).length ? view.options : null,
  };
}

const isStringMap = (value: unknown): value is Record<string, string> =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  Object.values(value).every((v) => typeof v === 'string');

/** `POST /volumes/create` body -> the contract; shape errors are 400s in dockerd's style. */
export function toCreateVolumeRequest(body: unknown): CreateVolumeRequest {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid('invalid JSON: body must be an object');
  const { Name, Driver, DriverOpts, Labels } = body as VolumeCreateOptions;
  if (Name !== undefined && Name !== null && typeof Name !== 'string') {
    throw invalid('invalid JSON: json: cannot unmarshal non-string into Go struct field CreateOptions.Name of type string');
  }
  if (Driver !== undefined && Driver !== null && typeof Driver !== 'string') {
    throw invalid('invalid JSON: json: cannot unmarshal non-string into Go struct field CreateOptions.Driver of type string');
  }
  for (const [field, value] of [
    ['DriverOpts', DriverOpts],
    ['Labels', Labels],
  ] as const) {
    if (value !== undefined && value !== null && !isStringMap(value)) {
      throw invalid(`invalid JSON: json: cannot unmarshal into Go struct field CreateOptions.${field} of type map[string]string`);
    }
  }
  return {
    ...(Name ? { name: Name } : {}),
    ...(Driver ? { driver: Driver } : {}),
    ...(DriverOpts ? { driverOpts: DriverOpts } : {}),
    ...(Labels ? { labels: Labels } : {}),
  };
}
