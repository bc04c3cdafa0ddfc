/**
 * Spawn benchmark (not a test): Berth (create + start through berth-shim and berth-init, the
 * executor's own code in-process, no queue) vs `runc run` vs `crun run` on the same busybox rootfs.
 *
 *   ready: from the start command until the container's process has exec'd (berth: start returned;
 *          runc/crun: `run --detach` returned)
 *   true:  from the start command until `true` has exited and its code is known (berth: the
 *          container.exited observation published; runc/crun: `run` in the foreground returned)
 *
 * Run as root: `npx tsc -b executor-native && npx tsc -p bench/executor && node bench/executor/dist/spawn.js [runs]`.
 * crun 1.8 refuses hybrid cgroup machines unless the cgroup2 mount at /sys/fs/cgroup/unified is gone,
 * so it runs in a private mount namespace without it (that wrapper's cost, ~1 ms, is measured and
 * reported separately as `unshare+sh` and included in crun's figures).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

type RuntimeModule = typeof import('../../executor-native/dist/host/containers/container-runtime');
const runtimeModule = join(__dirname, '..', '..', '..', 'executor-native', 'dist', 'host', 'containers', 'container-runtime');

const RUNS = Number(process.argv[2] ?? 100);
const now = () => Number(process.hrtime.bigint()) / 1e6;

function pct(xs: number[], p: number) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function busyboxRootfs(dir: string) {
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin', 'busybox'));
  execFileSync('chroot', [dir, '/bin/busybox', '--install', '-s', '/bin']);
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\n');
}

/** `runc spec` with our args, no terminal, the shared rootfs. */
function ociBundle(dir: string, rootfs: string, args: string[]) {
  mkdirSync(dir, { recursive: true });
  execFileSync('runc', ['spec', '--bundle', dir]);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = args;
  spec.root = { path: rootfs, readonly: true };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
}

const CRUN_WRAP = (args: string[]) => [
  '-m', '--propagation', 'private', 'sh', '-c', 'umount -l /sys/fs/cgroup/unified && exec "$0" "$@"', 'crun', ...args,
];

function oci(bin: 'runc' | 'crun', args: string[]) {
  const r = bin === 'runc' ? spawnSync('runc', args, { stdio: 'ignore' }) : spawnSync('unshare', CRUN_WRAP(args), { stdio: 'ignore' });
  return r.status;
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const { ContainerRuntime } = (await import(runtimeModule)) as RuntimeModule;
  const tmp = mkdtempSync(join(tmpdir(), 'bb-'));
  const rootfs = join(tmp, 'rootfs');
  busyboxRootfs(rootfs);
  const results: Record<string, { ready: number[]; true: number[] }> = {};
  const row = (name: string) => (results[name] ??= { ready: [], true: [] });

  // Round-robin (one of each per iteration) so load from anything else on the machine hits all alike.
  const exited = new Map<string, () => void>();
  // the shims' state on a tmpfs, as a deployed executor has it (exec root /run/berth)
  const execRoot = mkdtempSync('/run/berth-bench-spawn-');
  const rt = new ContainerRuntime(join(tmp, 'r'), execRoot, async (kind, subject) => {
    if (kind === 'container.exited') exited.get(subject)?.();
  }, { log() {}, warn: (m: string) => console.error(m), error: (m: string) => console.error(m) });
  const berth = async (metric: 'ready' | 'true', securityOpt: string[]) => {
    const id = randomBytes(32).toString('hex');
    await rt.prepare({ id, layerDirs: [rootfs] });
    const spec = {
      process: { args: metric === 'ready' ? ['sleep', '1000'] : ['true'], env: ['PATH=/bin'] },
      hostname: 'b', mounts: [], networkNamespace: { mode: 'none' as const }, securityOpt,
    };
    const done = new Promise<void>((r) => exited.set(id, r));
    const t0 = now();
    await rt.create({ id, spec });
    await rt.start({ id });
    if (metric === 'true') await done;
    const ms = now() - t0;
    await rt.remove({ id });
    exited.delete(id);
    return ms;
  };
  const sleepB = join(tmp, 'b-sleep');
  const trueB = join(tmp, 'b-true');
  ociBundle(sleepB, rootfs, ['sleep', '1000']);
  ociBundle(trueB, rootfs, ['true']);
  const ociRun = (bin: 'runc' | 'crun', metric: 'ready' | 'true', n: number) => {
    const id = `bench-${bin}-${metric}-${n}`;
    const t0 = now();
    const rc = metric === 'ready' ? oci(bin, ['run', '--detach', '--bundle', sleepB, id]) : oci(bin, ['run', '--bundle', trueB, id]);
    const ms = now() - t0;
    if (rc !== 0) throw new Error(`${bin} run (${metric}) exited ${rc}`);
    oci(bin, ['delete', '--force', id]);
    return ms;
  };
  for (let i = -3; i < RUNS; i++) {
    for (const metric of ['ready', 'true'] as const) {
      const sample = {
        berth: await berth(metric, []),
        'berth (seccomp=unconfined)': await berth(metric, ['seccomp=unconfined']),
        runc: ociRun('runc', metric, i + 3),
        crun: ociRun('crun', metric, i + 3),
      };
      if (i >= 0) for (const [name, ms] of Object.entries(sample)) row(name)[metric].push(ms);
    }
  }
  for (let i = 0; i < RUNS; i++) {
    const t0 = now();
    spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'umount -l /sys/fs/cgroup/unified && exec true'], { stdio: 'ignore' });
    row('unshare+sh (crun wrapper alone)').true.push(now() - t0);
  }

  // ── shim RSS ─────────────────────────────────────────────────────────────────────────────────
  const id = randomBytes(32).toString('hex');
  await rt.prepare({ id, layerDirs: [rootfs] });
  const { shimPid } = await rt.create({
    id, spec: { process: { args: ['sh', '-c', 'while true; do echo x; sleep 0.01; done'], env: ['PATH=/bin'] }, hostname: 'b', mounts: [], networkNamespace: { mode: 'none' } },
  });
  await rt.start({ id });
  await new Promise((r) => setTimeout(r, 1000));
  const status = readFileSync(`/proc/${shimPid}/status`, 'utf8');
  const kb = (k: string) => Number(/(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(k)) ?? '')?.[1] ?? 0);
  await rt.remove({ id });

  const f = (x: number) => x.toFixed(2).padStart(8);
  console.log(`\n${RUNS} runs each, ms                    ready p50  ready p95   true p50   true p95`);
  for (const [name, r] of Object.entries(results)) {
    const cols = r.ready.length ? `${f(pct(r.ready, 50))}   ${f(pct(r.ready, 95))}` : `${'-'.padStart(8)}   ${'-'.padStart(8)}`;
    console.log(`${name.padEnd(36)} ${cols}   ${f(pct(r.true, 50))}   ${f(pct(r.true, 95))}`);
  }
  const ratio = (a: string, b: string, m: 'ready' | 'true') => (pct(results[a]![m], 50) / pct(results[b]![m], 50)).toFixed(2);
  console.log(`\nberth/crun p50: ready ${ratio('berth', 'crun', 'ready')}x, true ${ratio('berth', 'crun', 'true')}x (target <= 1.5x)`);
  console.log(`shim RSS while a container writes output: VmRSS ${kb('VmRSS:')} KiB, VmHWM ${kb('VmHWM:')} KiB (target <= 1024 KiB)`);
  await rt.close();
  rmSync(tmp, { recursive: true, force: true });
  rmSync(execRoot, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
