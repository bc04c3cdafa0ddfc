#!/usr/bin/env bash
# Berth bootstrap: makes a checkout runnable. Idempotent and quiet when there is nothing to do;
# everything it does is announced on stderr (stdout stays clean for `berth config | jq`).
#
#   scripts/bootstrap.sh [cli|full|test]
#     cli   Node check, npm dependencies, base Debian packages, build the CLI only
#     full  ... and build every TypeScript project and the native code (berth up / migrate / ...)
#     test  ... and the Debian packages the tests use, plus a docker CLI
#
# BERTH_NO_BOOTSTRAP=1 skips everything (the caller promises the tree is ready).
# Exit status: 0 ready, 3 the TypeScript or native build failed, 1 anything else.
set -euo pipefail

mode="${1:-full}"
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"

[[ "${BERTH_NO_BOOTSTRAP:-}" == 1 ]] && exit 0

say() { printf 'berth bootstrap: %s\n' "$*" >&2; }
die() { printf 'berth bootstrap: error: %s\n' "$*" >&2; exit 1; }
build_failed() { printf 'berth bootstrap: error: %s\n' "$*" >&2; exit 3; }  # exit 3: only the build failed

export DEBIAN_FRONTEND=noninteractive
stamp_dir="$root/node_modules/.cache/berth"

# --- Node ------------------------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "Node.js >= 20.18 is required and 'node' is not on PATH (install Node 20 first)"
node -e '
  const [a, b] = process.versions.node.split(".").map(Number);
  if (a < 20 || (a === 20 && b < 18)) { console.error(`berth bootstrap: error: Node.js >= 20.18 is required, this is ${process.version}`); process.exit(1); }
' || exit 1

# --- Debian packages -------------------------------------------------------------------------------
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root to run: $*"; fi
}
pkg_installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]; }
apt_updated=0
apt_install() { # apt_install pkg...: installs those that are missing
  command -v dpkg-query >/dev/null 2>&1 || { say "not a Debian system: make sure these are installed: $*"; return 0; }
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  if ((apt_updated == 0)); then
    say "apt-get update"
    as_root apt-get update -qq >&2
    apt_updated=1
  fi
  say "apt-get install -y ${missing[*]}"
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

base_pkgs=(build-essential g++ make python3 libseccomp-dev libjson-c-dev libarchive-dev libcap-dev pkg-config iproute2 nftables attr)
test_pkgs=(docker-registry apache2-utils busybox-static crun runc skopeo tmux)
apt_install "${base_pkgs[@]}"
if [[ $mode == test ]]; then
  apt_install "${test_pkgs[@]}"
  # The docker CLI the tests drive: /usr/local/bin/docker when present, else Debian's docker.io.
  # Only its client is wanted: keep the package from starting a dockerd (policy-rc.d 101 = "not now").
  if [[ ! -x /usr/local/bin/docker ]] && ! command -v docker >/dev/null 2>&1; then
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod +x "$policy"
      trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
      apt_install docker.io
      as_root rm -f "$policy"; trap - EXIT
    else
      apt_install docker.io
    fi
  fi
fi

# --- npm dependencies ------------------------------------------------------------------------------
need_npm=0
if [[ ! -d node_modules ]]; then
  need_npm=1
elif [[ -f package-lock.json ]]; then
  marker=node_modules/.package-lock.json
  [[ -f $marker ]] || marker=node_modules
  [[ package-lock.json -nt $marker ]] && need_npm=1
fi
if ((need_npm)); then
  if [[ -f package-lock.json ]]; then
    say "installing npm dependencies (npm ci)"
    if ! npm ci --no-audit --no-fund >&2; then
      # Usually: package-lock.json is out of sync with package.json (a workspace added without
      # regenerating it). Install anyway, without rewriting the lockfile; fix it with
      # `npm install --package-lock-only` and commit.
      say "warning: npm ci failed; falling back to npm install --no-save (regenerate package-lock.json)"
      npm install --no-save --no-audit --no-fund >&2
    fi
  else
    say "installing npm dependencies (npm install; no package-lock.json)"
    npm install --no-audit --no-fund >&2
  fi
fi
mkdir -p "$stamp_dir"

# Workspace packages added after package-lock.json was last written have no node_modules/@berth/<x>
# link yet; npm would add it on the next install. Link them (local symlinks only, no registry access).
node -e '
  const fs = require("fs"), path = require("path");
  const globs = require("./package.json").workspaces || [];
  const dirs = globs.flatMap((g) => g.endsWith("/*")
    ? (fs.existsSync(g.slice(0, -2)) ? fs.readdirSync(g.slice(0, -2)).map((d) => path.join(g.slice(0, -2), d)) : [])
    : [g]);
  for (const dir of dirs) {
    let name;
    try { name = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name; } catch { continue; }
    if (!name) continue;
    const link = path.join("node_modules", name);
    try { fs.lstatSync(link); continue; } catch {}
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.relative(path.dirname(link), dir), link);
    console.error(`berth bootstrap: linked workspace package ${name} -> ${dir} (package-lock.json does not list it yet)`);
  }
'

# --- TypeScript ------------------------------------------------------------------------------------
tsc="$root/node_modules/.bin/tsc"
[[ -x $tsc ]] || die "node_modules/.bin/tsc is missing (remove node_modules and run again)"

# newer_than STAMP DIR...: true when any source file under DIR is newer than STAMP (or STAMP is missing)
newer_than() {
  local stamp=$1; shift
  [[ -f $stamp ]] || return 0
  local d
  for d in "$@"; do
    [[ -e $d ]] || continue
    if [[ -n "$(find "$d" \( -name node_modules -o -name dist -o -name build \) -prune -o -type f \
        \( -name '*.ts' -o -name '*.json' -o -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' \
           -o -name '*.hpp' -o -name '*.gyp' -o -name Makefile \) -newer "$stamp" -print -quit)" ]]; then
      return 0
    fi
  done
  return 1
}
# missing_outputs PROJECT...: true when a project has sources but no compiled output yet
missing_outputs() {
  local p
  for p in "$@"; do
    [[ -f $p/tsconfig.json && -d $p/src ]] || continue
    [[ -n "$(find "$p/src" -name '*.ts' -print -quit)" ]] || continue
    [[ -f $p/dist/.tsbuildinfo ]] || return 0
  done
  return 1
}

if [[ $mode == cli ]]; then
  stamp="$stamp_dir/build-cli.stamp"
  if [[ ! -f cli/dist/main.js ]] || newer_than "$stamp" cli libs/config libs/contracts tsconfig.base.json; then
    say "building the CLI (tsc -b cli)"
    touch "$stamp.new"
    "$tsc" -b cli >&2 || build_failed "TypeScript build of the CLI failed"
    mv "$stamp.new" "$stamp"
  fi
  exit 0
fi

projects=(libs/* services/* executor-native cli)
build_args=(tsconfig.build.json)
# test/e2e is built with the rest; until tsconfig.build.json references it, name it explicitly.
if [[ -f test/e2e/tsconfig.json ]] && ! grep -q '"test/e2e"' tsconfig.build.json; then
  build_args+=(test/e2e)
  projects+=(test/e2e)
fi
stamp="$stamp_dir/build.stamp"
if missing_outputs "${projects[@]}" || newer_than "$stamp" libs services executor-native cli test \
    tsconfig.base.json tsconfig.build.json package.json; then
  say "building TypeScript (tsc -b ${build_args[*]})"
  touch "$stamp.new"
  "$tsc" -b "${build_args[@]}" >&2 || build_failed "TypeScript build failed (see the errors above)"
  mv "$stamp.new" "$stamp"
  touch "$stamp_dir/build-cli.stamp"
fi

# --- native code -----------------------------------------------------------------------------------
nstamp="$stamp_dir/build-native.stamp"
if [[ -f executor-native/package.json ]] && node -e 'process.exit(require("./executor-native/package.json").scripts?.build ? 0 : 1)'; then
  if newer_than "$nstamp" executor-native; then
    say "building native code (npm run build --workspace executor-native)"
    touch "$nstamp.new"
    npm run build --workspace executor-native --if-present >&2 || build_failed "native build failed (see the errors above)"
    mv "$nstamp.new" "$nstamp"
  fi
fi
