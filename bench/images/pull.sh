#!/usr/bin/env bash
# docker pull of a realistic image (debootstrap --variant=minbase bookworm, ~60 MB gzip, one layer)
# from a local docker-registry: Berth side by side with the engine at DOCKER_HOST (when set).
#
#   bench/images/pull.sh            # Berth only
#   DOCKER_HOST=unix:///tmp/ref/docker.sock bench/images/pull.sh   # an engine already running
#   REF_DOCKERD=1 bench/images/pull.sh   # starts a throw-away reference dockerd itself, stops it after
#
# The rootfs and the gzip layer are built once and cached under /var/tmp/berth-bench-images.
# Each run pulls into an empty store (the image is removed, with its layers, between runs).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
cache=/var/tmp/berth-bench-images
runs="${RUNS:-3}"
docker_cli=$(command -v /usr/local/bin/docker || command -v docker)
mkdir -p "$cache"

# 1. The image, built once.
if [[ ! -f $cache/layer.tar.gz ]]; then
  command -v debootstrap >/dev/null || apt-get install -y debootstrap
  rm -rf "$cache/rootfs"
  echo "building a minbase bookworm rootfs (once; a few minutes)" >&2
  debootstrap --variant=minbase bookworm "$cache/rootfs" >"$cache/debootstrap.log" 2>&1
  # What a published base image drops: the downloaded packages and apt lists.
  rm -rf "$cache/rootfs"/var/cache/apt/archives/*.deb "$cache/rootfs"/var/lib/apt/lists/*
  tar -C "$cache/rootfs" --numeric-owner --xattrs -cf "$cache/layer.tar" .
  gzip -6 -n -c "$cache/layer.tar" >"$cache/layer.tar.gz.tmp"
  mv "$cache/layer.tar.gz.tmp" "$cache/layer.tar.gz"
fi

work=$(mktemp -d /tmp/berth-bench-pull.XXXXXX)
# The throw-away reference dockerd lives in its own directory: never /tmp/ref, where a developer's
# long-running reference engine may be.
ref="$work/ref"
pids=()
cleanup() {
  set +e
  [[ -n ${berth_env:-} ]] && env $berth_env "$root/berth" down >/dev/null 2>&1
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [[ -n ${ref_started:-} ]]; then
    ref_pid=$(cat "$ref/docker.pid" 2>/dev/null)
    kill "$ref_pid" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$ref_pid" 2>/dev/null || break; sleep 0.1; done
    # dockerd bind-mounts its data root onto itself.
    grep -o " $ref/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf "$ref"
  fi
  [[ -n ${db:-} ]] && psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  [[ -n ${ns:-} ]] && redis-cli --scan --pattern "$ns:*" | xargs -r redis-cli del >/dev/null 2>&1
  # The namespace's nft table and bridges outlive `berth down` (like docker0); a bench run removes them.
  if [[ -n ${ns:-} ]]; then
    read -r table bridge < <(node -e 'const c = require(process.argv[1]); console.log(c.networkNftTable(process.argv[2]), c.defaultBridgeName(process.argv[2]))' "$root/libs/contracts/dist" "$ns")
    [[ -n $table ]] && nft delete table inet "$table" 2>/dev/null
    [[ -n $bridge ]] && ip -o link show | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p' | grep -E "^(${bridge}|${bridge:0:6}-)" | xargs -r -n1 ip link del
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 2. A registry on a free loopback port, and the image pushed to it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
image="127.0.0.1:$port/bench/bookworm:minbase"
node - "$root" "$cache/layer.tar.gz" "$cache/layer.tar" "127.0.0.1:$port" <<'EOF'
const [root, gz, tar, host] = process.argv.slice(2);
const { createHash } = require('node:crypto');
const { createReadStream, statSync } = require('node:fs');
const oci = require(`${root}/libs/oci/dist`);
const hashFile = (p) => new Promise((res, rej) => { const h = createHash('sha256'); createReadStream(p).on('data', (c) => h.update(c)).on('end', () => res('sha256:' + h.digest('hex'))).on('error', rej); });
(async () => {
  const layer = { mediaType: oci.MediaType.DockerLayerGzip, digest: await hashFile(gz), size: statSync(gz).size };
  const diffId = await hashFile(tar);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['bash'] },
    rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created: '2024-01-01T00:00:00Z', created_by: 'debootstrap --variant=minbase bookworm' }] }));
  const cfg = { mediaType: oci.MediaType.DockerConfig, digest: oci.sha256(config), size: config.length };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: oci.MediaType.DockerManifest, config: cfg, layers: [layer] }));
  const client = new oci.RegistryClient();
  const repo = client.repository(oci.parseReference(`${host}/bench/bookworm`), undefined, { push: true });
  await repo.pushBlob(layer, () => createReadStream(gz));
  await repo.pushBlob(cfg, () => require('node:stream').Readable.from([config]));
  await repo.putManifest('minbase', manifest, oci.MediaType.DockerManifest);
  await client.close();
  console.error(`pushed ${host}/bench/bookworm:minbase (${(layer.size / 1e6).toFixed(1)} MB compressed)`);
})().catch((e) => { console.error(e); process.exit(1); });
EOF

time_pull() { # <docker -H args...>: prints seconds for one pull into an empty store
  "$docker_cli" "$@" rmi -f "$image" >/dev/null 2>&1 || true
  local t0 t1
  t0=$(date +%s.%N)
  "$docker_cli" "$@" pull -q "$image" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# 3. Berth on a throw-away configuration.
suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
db="berth_bench_$suffix"
ns="berthbench$suffix"
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
cat >"$work/berth.json" <<EOF
{"data-root": "$work/root", "exec-root": "$work/exec", "hosts": ["unix://$work/docker.sock"],
 "postgres": "postgres://postgres@127.0.0.1:5432/$db", "redis": "redis://127.0.0.1:6379", "namespace": "$ns",
 "node-id": "bench-$suffix", "log-level": "warn"}
EOF
berth_env="BERTH_CONFIG=$work/berth.json BERTH_NO_BOOTSTRAP=${BERTH_NO_BOOTSTRAP:-1}"
env $berth_env "$root/berth" up >/dev/null
berth_times=()
for _ in $(seq "$runs"); do berth_times+=("$(time_pull -H "unix://$work/docker.sock")"); done
berth_median=$(printf '%s\n' "${berth_times[@]}" | median)

# 4. The reference engine.
if [[ -n ${REF_DOCKERD:-} && -z ${DOCKER_HOST:-} ]]; then
  mkdir -p "$ref"
  dockerd --data-root "$ref/root" --exec-root "$ref/exec" -H "unix://$ref/docker.sock" --pidfile "$ref/docker.pid" \
    --iptables=false --ip-masq=false --bridge=none --insecure-registry "127.0.0.1:$port" >"$ref/dockerd.log" 2>&1 &
  ref_started=1
  for _ in $(seq 100); do "$docker_cli" -H "unix://$ref/docker.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
  export DOCKER_HOST="unix://$ref/docker.sock"
fi
printf 'docker pull %s (%s runs, empty store each time)\n' "$image" "$runs"
printf '  berth   : median %.2f s  (%s)\n' "$berth_median" "${berth_times[*]}"
if [[ -n ${DOCKER_HOST:-} ]]; then
  ref_times=()
  for _ in $(seq "$runs"); do ref_times+=("$(time_pull -H "$DOCKER_HOST")"); done
  ref_median=$(printf '%s\n' "${ref_times[@]}" | median)
  "$docker_cli" -H "$DOCKER_HOST" rmi -f "$image" >/dev/null 2>&1 || true
  printf '  %-8s: median %.2f s  (%s)\n' "ref" "$ref_median" "${ref_times[*]}"
  printf '  ratio   : %.2fx (target <= 0.9x)\n' "$(echo "$berth_median / $ref_median" | bc -l)"
fi
