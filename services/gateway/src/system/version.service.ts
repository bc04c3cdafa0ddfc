import { Inject, Injectable } from '@nestjs/common';
import type { SystemVersion } from '@berth/docker-api';
import { API_VERSION, MIN_API_VERSION } from '../http/api-version';
import { HostFacts } from './host-facts';
import { SYSTEM_IDENTITY, type SystemIdentity } from './system-identity';

/** `GET /version` in dockerd's shape; `ApiVersion` equals the `Api-Version` header (docker-py reads it). */
@Injectable()
export class VersionService {
  constructor(
    @Inject(SYSTEM_IDENTITY) private readonly identity: SystemIdentity,
    private readonly host: HostFacts,
  ) {}

  version(): SystemVersion {
    const { version, gitCommit, buildTime } = this.identity.build;
    const common = {
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: gitCommit,
      GoVersion: 'n/a',
      Os: 'linux',
      Arch: this.host.goArch,
      KernelVersion: this.host.kernelVersion,
      BuildTime: buildTime,
    };
    return {
      Platform: { Name: 'Berth' },
      Components: [
        { Name: 'Engine', Version: version, Details: { ...common, Experimental: 'false' } },
        { Name: 'Berth', Version: version, Details: { GitCommit: gitCommit, NodeVersion: process.version } },
      ],
      Version: version,
      ...common,
      Experimental: false,
    };
  }
}
