#!/usr/bin/env bash
# The whole Berth test suite: bootstrap, Postgres + Redis, build, lint (module boundaries), then node's
# test runner over every compiled *.spec.js. Ends with the runner's summary (# pass N / # fail N).
#
#   scripts/test.sh [extra node --test args]      (also: ./berth test)
#
# Environment: BERTH_TEST_POSTGRES (admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
# BERTH_TEST_REDIS (default redis://127.0.0.1:6379/0), BERTH_TEST_TIMEOUT (whole run, seconds, 1740),
# CI=true is respected: nothing here prompts.
set -uo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"
export DEBIAN_FRONTEND=noninteractive
started=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'berth test: error: %s\n' "$*" >&2; exit 1; }

# --- bootstrap (packages, npm deps; ./berth test has already done it) ---------------------------------
if [[ "${BERTH_BOOTSTRAPPED:-}" != 1 ]]; then
  step "bootstrap"
  rc=0; "$root/scripts/bootstrap.sh" test || rc=$?
  ((rc == 0 || rc == 3)) || die "bootstrap failed"   # 3: only the build failed; reported below
  export BERTH_BOOTSTRAPPED=1
fi

# --- Postgres and Redis -----------------------------------------------------------------------------
pg_url="${BERTH_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${BERTH_TEST_REDIS:-redis://127.0.0.1:6379/0}"
hostport() { node -e 'const u=new URL(process.argv[1]); console.log(`${u.hostname||"127.0.0.1"} ${u.port||process.argv[2]}`)' "$1" "$2"; }
reachable() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
wait_reachable() { local i; for ((i = 0; i < 100; i++)); do reachable "$1" "$2" && return 0; sleep 0.2; done; return 1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }
apt_updated=0
apt_install() {
  if ((apt_updated == 0)); then echo "apt-get update"; as_root apt-get update -qq; apt_updated=1; fi
  echo "apt-get install -y $*"; as_root apt-get install -y -qq "$@"
}
pg_check() { # connects with the admin URL; prints the error when it fails
  node -e '
    const { Client } = require("pg");
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query("SELECT 1")).then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });
  ' "$1"
}

step "Postgres and Redis"
read -r pg_host pg_port < <(hostport "$pg_url" 5432)
if ! reachable "$pg_host" "$pg_port"; then
  [[ -n "${BERTH_TEST_POSTGRES:-}" ]] && die "Postgres at BERTH_TEST_POSTGRES ($pg_host:$pg_port) is not reachable"
  fresh=0
  if [[ ! -d /etc/postgresql ]] || [[ -z "$(ls /etc/postgresql 2>/dev/null)" ]]; then
    apt_install postgresql || die "could not install postgresql"
    fresh=1
  fi
  ver=$(ls /etc/postgresql | sort -n | tail -1)
  if ((fresh)); then
    # A cluster we just installed: trust on localhost, like the machines the suite is written for.
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    if ! grep -q '^# berth test' "$hba"; then
      { printf '# berth test: trust on localhost\nlocal all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'; cat "$hba"; } > "$hba.new"
      mv "$hba.new" "$hba"; chown postgres:postgres "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$ver" main stop >/dev/null 2>&1 || true
  fi
  echo "starting Postgres: pg_ctlcluster --skip-systemctl-redirect $ver main start"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || die "could not start Postgres $ver/main"
  wait_reachable "$pg_host" "$pg_port" || die "Postgres did not come up on $pg_host:$pg_port"
fi
pg_err=""
for _ in $(seq 1 25); do pg_err=$(pg_check "$pg_url" 2>&1) && break; sleep 0.2; done
pg_check "$pg_url" >/dev/null 2>&1 || die "cannot connect to Postgres at $pg_url: $pg_err"
echo "Postgres: $pg_host:$pg_port ok"

read -r redis_host redis_port < <(hostport "$redis_url" 6379)
if ! reachable "$redis_host" "$redis_port"; then
  [[ -n "${BERTH_TEST_REDIS:-}" ]] && die "Redis at BERTH_TEST_REDIS ($redis_host:$redis_port) is not reachable"
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server || die "could not install redis-server"
    wait_reachable "$redis_host" "$redis_port" || true
  fi
  if ! reachable "$redis_host" "$redis_port"; then
    echo "starting Redis: redis-server --daemonize yes --bind 127.0.0.1 --port $redis_port"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >/dev/null \
      || die "could not start redis-server"
    wait_reachable "$redis_host" "$redis_port" || die "Redis did not come up on $redis_host:$redis_port"
  fi
fi
echo "Redis: $redis_host:$redis_port ok"

# --- build (no-op when the bootstrap just built) -----------------------------------------------------
step "build"
# A failed build fails the run, but what did compile is still tested so one broken package does not
# hide the state of the others.
build_rc=0
"$root/scripts/bootstrap.sh" full || build_rc=$?
((build_rc == 0 || build_rc == 3)) || die "bootstrap failed"
((build_rc == 0)) && echo "build ok" || echo "build FAILED (tests below run on what compiled)"

# --- lint: module boundaries -------------------------------------------------------------------------
step "lint (eslint: Nx module boundaries)"
# The boundary rule needs Nx's project graph; without it the rule is silently skipped.
NX_DAEMON=false NX_NO_CLOUD=true node_modules/.bin/nx show projects >/dev/null || echo "warning: nx could not compute the project graph"
lint_rc=0
node_modules/.bin/eslint . || lint_rc=$?
((lint_rc == 0)) && echo "lint ok" || echo "lint FAILED (exit $lint_rc)"

# --- tests --------------------------------------------------------------------------------------------
step "tests"
mapfile -t files < <(find libs services executor-native cli test -path '*/node_modules' -prune -o -path '*/dist/*' \( -name '*.spec.js' \) -print 2>/dev/null | sort)
echo "${#files[@]} test files"
# The spec reporter's output is also kept to print its counts last. (Not a second TAP reporter to a
# file: --test-force-exit can end the run before a file destination is flushed; stdout is a pipe,
# which node writes synchronously.)
log="$(mktemp -t berth-test-XXXXXX.log)"
trap 'rm -f "$log"' EXIT
test_rc=0
budget=${BERTH_TEST_TIMEOUT:-1740}
left=$((budget - ($(date +%s) - started)))
((left > 60)) || left=60
if ((${#files[@]})); then
  timeout --kill-after=30 "$left" node --test --test-concurrency=1 --test-force-exit --test-timeout="${BERTH_TEST_FILE_TIMEOUT_MS:-600000}" \
    --test-reporter=spec --test-reporter-destination=stdout "$@" "${files[@]}" 2>&1 | tee "$log"
  test_rc=${PIPESTATUS[0]}
  ((test_rc == 124)) && echo "berth test: the run exceeded ${budget}s and was stopped"
else
  printf '# tests 0\n# pass 0\n# fail 0\n' > "$log"
fi

# --- summary (last lines: the runner's counts) ---------------------------------------------------------
printf '\n==> summary (%ss)\n' "$(($(date +%s) - started))"
printf 'build: %s\n' "$([[ $build_rc == 0 ]] && echo ok || echo FAILED)"
printf 'lint: %s\n' "$([[ $lint_rc == 0 ]] && echo ok || echo FAILED)"
printf 'tests: %s\n' "$([[ $test_rc == 0 ]] && echo ok || echo "FAILED (exit $test_rc)")"
summary_re='^(ℹ|#) (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [0-9.]+$'
if grep -qE '^(ℹ|#) pass [0-9]+$' "$log"; then
  grep -E "$summary_re" "$log" | tail -n 8 | sed -E 's/^ℹ /# /'
else
  printf '# the test runner ended without a summary (exit %s)\n# fail 1\n' "$test_rc"
fi
((build_rc == 0 && lint_rc == 0 && test_rc == 0))
