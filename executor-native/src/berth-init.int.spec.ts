/**
 * berth-init against the real kernel (root): busybox rootfs, overlay, namespaces, cgroups v1/v2,
 * seccomp, capabilities, users, exec. Node is the test parent: it is made a child subreaper so the
 * containers' PID 1 (re-parented when berth-init exits) can be reaped with waitPid.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTempDir, type TempDir } from '@berth/testing';
import {
  berthInitPath,
  cgroup,
  compileSeccomp,
  createContainer,
  createExec,
  InitError,
  nativeRoot,
  setChildSubreaper,
  start,
  waitPid,
  type WaitResult,
} from './native';

const isRoot = process.getuid?.() === 0;
const mustRun = process.env.CI === 'true';
const skip = !isRoot && !mustRun ? 'needs root' : false;

const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
const MASKED = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe('berth-init (root, real kernel)', { skip }, () => {
  let tmp: TempDir;
  let lower: string;
  let seccompBpf: string;
  let n = 0;
  const cgroupsMade: string[] = [];

  before(async () => {
    assert.ok(isRoot, 'CI=true: these tests must run as root');
    assert.ok(existsSync(berthInitPath), `build first: npm run build --workspace executor-native (${berthInitPath})`);
    setChildSubreaper();
    tmp = createTempDir('berth-init-');
    lower = join(tmp.path, 'lower');
    mkdirSync(join(lower, 'bin'), { recursive: true });
    mkdirSync(join(lower, 'etc'));
    mkdirSync(join(lower, 'tmp'));
    copyFileSync('/bin/busybox', join(lower, 'bin', 'busybox'));
    execFileSync('chroot', [lower, '/bin/busybox', '--install', '-s', '/bin']);
    copyFileSync(join(nativeRoot, 'build', 'berth-probe'), join(lower, 'bin', 'probe'));
    writeFileSync(join(lower, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
    writeFileSync(join(lower, 'etc', 'group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n');
    seccompBpf = join(tmp.path, 'default.bpf');
    await compileSeccomp(seccompBpf, DEFAULT_CAPS);
  });

  after(async () => {
    for (const cg of cgroupsMade) await cgroup.remove(cg).catch(() => undefined);
    await cgroup.remove('berth-test').catch(() => undefined);
    // nothing of ours may remain mounted on the host
    const mounts = readFileSync('/proc/mounts', 'utf8');
    tmp?.remove();
    assert.ok(!tmp || !mounts.includes(tmp.path), 'a test mount leaked to the host');
  });

  interface Opts {
    args: string[];
    user?: object;
    readonly?: boolean;
    resources?: object;
    seccomp?: string | null;
    caps?: string[];
    env?: string[];
    init?: boolean;
    hostname?: string;
  }

  function bundle(o: Opts) {
    const id = `t${process.pid}-${++n}`;
    const dir = join(tmp.path, id);
    for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, d), { recursive: true });
    const caps = o.caps ?? DEFAULT_CAPS;
    const cgroupsPath = `berth-test/${id}`;
    cgroupsMade.push(cgroupsPath);
    const config = {
      process: {
        args: o.args, env: o.env ?? [PATH], cwd: '/', user: o.user ?? { uid: 0, gid: 0 },
        capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
        rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }], noNewPrivileges: true,
      },
      root: { path: join(dir, 'rootfs'), readonly: o.readonly ?? false },
      rootfs: { lowerdirs: [lower], upperdir: join(dir, 'upper'), workdir: join(dir, 'work') },
      hostname: o.hostname ?? 'box',
      mounts: [],
      init: o.init ?? false,
      linux: {
        namespaces: ['pid', 'mount', 'uts', 'ipc', 'network', 'cgroup'].map((type) => ({ type })),
        maskedPaths: MASKED, readonlyPaths: READONLY, cgroupsPath, resources: o.resources ?? {},
        seccomp: o.seccomp === undefined ? seccompBpf : o.seccomp,
      },
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return { dir, cgroupsPath };
  }

  /** create + start; resolves with output and exit once PID 1 exits. `during` runs while it is alive. */
  async function run(o: Opts, during?: (pid: number, cgroupsPath: string) => Promise<void>) {
    const { dir, cgroupsPath } = bundle(o);
    const outPath = join(dir, 'out');
    const out = openSync(outPath, 'w');
    let exit: WaitResult;
    try {
      const c = await createContainer(dir, [-1, out, out]);
      await waitPid(c.initPid);
      const exited = waitPid(c.pid);
      await start(c);
      if (during) await during(c.pid, cgroupsPath);
      exit = await exited;
    } finally {
      closeSync(out);
    }
    return { out: readFileSync(outPath, 'utf8'), exit, cgroupsPath };
  }

  it('runs as PID 1 with its own hostname and no host processes visible', async () => {
    const { out, exit } = await run({
      args: ['sh', '-c', 'echo pid=$$; hostname; ls /proc | grep -c "^[0-9]"'], hostname: 'berthbox',
    });
    assert.equal(exit.exitCode, 0, out);
    const [pid, host, count] = out.trim().split('\n');
    assert.equal(pid, 'pid=1');
    assert.equal(host, 'berthbox');
    assert.ok(Number(count) <= 4, `processes visible: ${count}`);
  });

  it('reports a missing command with Docker wording after go', async () => {
    const { dir } = bundle({ args: ['nosuch'] });
    const c = await createContainer(dir);
    await waitPid(c.initPid);
    const exited = waitPid(c.pid);
    await assert.rejects(start(c), (e: unknown) => {
      assert.ok(e instanceof InitError);
      assert.equal(e.message, 'exec: "nosuch": executable file not found in $PATH');
      assert.equal(e.stage, 'exec');
      assert.equal(e.errno, 2);
      return true;
    });
    assert.equal((await exited).exitCode, 127);
  });

  it('reports a setup failure naming the syscall and object', async () => {
    const { dir } = bundle({ args: ['true'], user: { username: 'ghost' } });
    await assert.rejects(createContainer(dir), (e: unknown) => {
      assert.ok(e instanceof InitError);
      assert.equal(e.stage, 'user');
      assert.match(e.message, /unable to find user ghost/);
      return true;
    });
  });

  it('resolves the user and supplementary groups from /etc/passwd and /etc/group', async () => {
    const { out } = await run({ args: ['id'], user: { username: 'app' } });
    assert.equal(out.trim(), 'uid=1000(app) gid=1000(app) groups=50(staff)');
  });

  it('has no CAP_SYS_ADMIN: mount fails', async () => {
    const { out, exit } = await run({ args: ['sh', '-c', 'mount -t tmpfs x /mnt; echo rc=$?'] });
    assert.equal(exit.exitCode, 0);
    assert.match(out, /rc=[1-9]/);
    assert.match(out, /permission denied|Operation not permitted/i);
  });

  it('seccomp blocks unshare and keyctl; unconfined does not', async () => {
    const confined = await run({ args: ['sh', '-c', 'unshare -U true; echo unshare=$?; probe keyctl'] });
    assert.match(confined.out, /unshare=1/);
    assert.match(confined.out, /keyctl=-1 errno=1\b/);
    const unconfined = await run({ args: ['sh', '-c', 'unshare -U true; echo unshare=$?; probe keyctl'], seccomp: null });
    assert.match(unconfined.out, /unshare=0/);
    assert.doesNotMatch(unconfined.out, /errno=1\b/);
  });

  it('read-only rootfs refuses writes', async () => {
    const { out } = await run({ args: ['sh', '-c', 'touch /x; echo rc=$?'], readonly: true });
    assert.match(out, /Read-only file system/);
    assert.match(out, /rc=1/);
  });

  it('masks and read-only paths are applied', async () => {
    const { out } = await run({
      args: ['sh', '-c', 'ls /sys/firmware | wc -l; wc -c < /proc/keys; echo 1 > /proc/sys/kernel/domainname; echo rc=$?'],
    });
    assert.match(out, /^0\n0\n/);
    assert.match(out, /rc=1/);
  });

  it('OOM-kills a memory hog over the limit and the OOM shows in cgroup stats', async () => {
    const limit = 32 * 1024 * 1024;
    let stats: Awaited<ReturnType<typeof cgroup.stats>> | undefined;
    const { exit, cgroupsPath } = await run({
      // the hog asks to be the OOM victim (raising oom_score_adj needs no privilege): otherwise the kernel
      // may pick PID 1's shell, and its exit is then a kill, not 0
      args: ['sh', '-c', 'head -c 200000000 /dev/zero | sh -c "echo 1000 > /proc/self/oom_score_adj; exec tail"; sleep 0.3'],
      resources: { memory: { limit, swap: limit } },
    }, async (_pid, cg) => {
      // the shell survives its tail being killed; read stats while the group exists
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 50 && !(stats?.memory.oom_kill); i++) {
        stats = await cgroup.stats(cg);
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    assert.equal(exit.exitCode, 0);
    assert.ok(stats, 'stats read');
    assert.ok(stats.memory.oom_kill >= 1, `oom_kill: ${JSON.stringify(stats.memory)}`);
    assert.equal(stats.memory.limit, limit);
    await cgroup.remove(cgroupsPath);
  });

  it('a fork bomb stops at the pids limit', async () => {
    let current = 0;
    const { out } = await run({
      // the inner shell dies at the limit; PID 1 then execs (no fork needed) so the group stays full
      args: ['sh', '-c', 'sh -c "while true; do sleep 2 & done"; exec sleep 1'],
      resources: { pids: { limit: 20 } },
    }, async (_pid, cg) => {
      await new Promise((r) => setTimeout(r, 500));
      current = (await cgroup.stats(cg)).pids.current;
      assert.equal((await cgroup.stats(cg)).pids.limit, 20);
    });
    assert.ok(current <= 20 && current >= 15, `pids.current ${current}`);
    assert.match(out, /can't fork|Resource temporarily unavailable/);
  });

  it('exec joins the container: same PID namespace, user, cwd and env', async () => {
    let execOut = '';
    await run({ args: ['sleep', '3'] }, async (pid, cg) => {
      const spec = join(tmp.path, `exec-${pid}.json`);
      writeFileSync(spec, JSON.stringify({
        process: {
          args: ['sh', '-c', 'echo pid=$$; cat /proc/1/cmdline | tr "\\0" " "; echo; id -u; pwd; echo $FOO; hostname'],
          env: [PATH, 'FOO=bar'], cwd: '/tmp', user: { username: 'app' },
          capabilities: { bounding: DEFAULT_CAPS, effective: [], permitted: [], inheritable: [], ambient: [] },
          noNewPrivileges: true,
        },
        seccomp: seccompBpf,
      }));
      const outPath = join(tmp.path, `exec-${pid}.out`);
      const fd = openSync(outPath, 'w');
      try {
        const e = await createExec(pid, spec, [-1, fd, fd]);
        await waitPid(e.initPid);
        const done = waitPid(e.pid);
        await start(e);
        assert.equal((await done).exitCode, 0);
      } finally {
        closeSync(fd);
      }
      execOut = readFileSync(outPath, 'utf8');
      // stats include the container's network namespace (only lo here, which is left out)
      const stats = await cgroup.stats(cg, pid);
      assert.ok(stats.pids.current >= 1);
      assert.deepEqual(stats.network, {});
      // exec failures get Docker's wording too
      writeFileSync(spec, JSON.stringify({ process: { args: ['nosuch'], env: [PATH], cwd: '/' }, seccomp: null }));
      const bad = await createExec(pid, spec);
      await waitPid(bad.initPid);
      const badDone = waitPid(bad.pid);
      await assert.rejects(start(bad), /exec: "nosuch": executable file not found in \$PATH/);
      assert.equal((await badDone).exitCode, 127);
    });
    const lines = execOut.trim().split('\n');
    assert.notEqual(lines[0], 'pid=1');
    assert.equal(lines[1].trim(), 'sleep 3');
    assert.deepEqual(lines.slice(2), ['1000', '/tmp', 'bar', 'box']);
  });

  it('--init keeps a reaper as PID 1 and passes the exit code through', async () => {
    const { out, exit } = await run({ args: ['sh', '-c', 'echo pid=$$; cat /proc/1/comm; exit 3'], init: true });
    assert.match(out, /pid=[2-9]/);
    assert.equal(exit.exitCode, 3);
  });

  it('freezes, thaws and updates resources at runtime', async () => {
    await run({ args: ['sleep', '1'] }, async (_pid, cg) => {
      await cgroup.freeze(cg);
      const v = await cgroup.version();
      if (v === 1) assert.match(readFileSync(`/sys/fs/cgroup/freezer/${cg}/freezer.state`, 'utf8'), /FROZEN/);
      await cgroup.thaw(cg);
      const res = join(tmp.path, 'update.json');
      writeFileSync(res, JSON.stringify({ memory: { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024 }, pids: { limit: 50 },
        cpu: { shares: 512, quota: 50000, period: 100000 } }));
      const r = await cgroup.update(cg, res);
      assert.equal(r.ok, true);
      const stats = await cgroup.stats(cg);
      assert.equal(stats.memory.limit, 64 * 1024 * 1024);
      assert.equal(stats.pids.limit, 50);
    });
  });

  it('leaves nothing behind after removal: no mounts, no cgroups', async () => {
    const { cgroupsPath } = await run({ args: ['true'] });
    await cgroup.remove(cgroupsPath);
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(tmp.path));
    if ((await cgroup.version()) === 1) {
      for (const c of readdirSync('/sys/fs/cgroup')) {
        if (['unified', 'systemd'].includes(c)) continue;
        assert.ok(!existsSync(join('/sys/fs/cgroup', c, cgroupsPath)), `${c}/${cgroupsPath} remains`);
      }
    } else {
      assert.ok(!existsSync(join('/sys/fs/cgroup', cgroupsPath)));
    }
  });
});

describe('berth-init net-attach (root, real kernel)', { skip }, () => {
  // A bridge and a process in a network namespace of its own, both made here and removed after.
  const bridge = `btna${process.pid % 100000}`;
  const hostVeth = `vbna${process.pid % 100000}`;
  let holder: { pid: number; kill: () => void } | undefined;
  const inNs = (args: string[]) => execFileSync('nsenter', [`--net=/proc/${holder!.pid}/ns/net`, '--', 'ip', ...args], { encoding: 'utf8' });

  before(async () => {
    execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', '10.213.7.1/24', 'dev', bridge]);
    execFileSync('ip', ['link', 'set', bridge, 'up']);
    const { spawn } = await import('node:child_process');
    const child = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    holder = { pid: child.pid!, kill: () => child.kill('SIGKILL') };
    // unshare execs sleep in the new namespace: wait until it is no longer ours
    for (let i = 0; i < 100; i++) {
      const theirs = execFileSync('readlink', [`/proc/${holder.pid}/ns/net`], { encoding: 'utf8' });
      const mine = execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' });
      if (theirs !== mine) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  after(() => {
    holder?.kill();
    try {
      execFileSync('ip', ['link', 'del', hostVeth], { stdio: 'ignore' });
    } catch {
      // gone with the namespace
    }
    execFileSync('ip', ['link', 'del', bridge]);
  });

  it('creates the veth with its peer inside, on the bridge, addressed and routed; refuses bad input', async () => {
    const { netAttach } = await import('./native');
    await netAttach({ pid: holder!.pid, hostVeth, bridge, ifname: 'eth0', mac: '02:42:0a:d5:07:02', ip: '10.213.7.2', prefix: 24, gateway: '10.213.7.1' });
    assert.match(execFileSync('ip', ['-o', 'link', 'show', hostVeth], { encoding: 'utf8' }), new RegExp(`master ${bridge} .*state (UP|LOWERLAYERDOWN)|master ${bridge}`));
    assert.match(inNs(['-o', 'addr', 'show', 'dev', 'eth0']), /inet 10\.213\.7\.2\/24 brd 10\.213\.7\.255/);
    assert.match(inNs(['-o', 'link', 'show', 'dev', 'eth0']), /link\/ether 02:42:0a:d5:07:02/);
    assert.match(inNs(['-o', 'link', 'show', 'dev', 'lo']), /UP/);
    assert.match(inNs(['route', 'show', 'default']), /default via 10\.213\.7\.1 dev eth0/);
    // a second network keeps the first one's default route
    await netAttach({ pid: holder!.pid, hostVeth: `${hostVeth}b`, bridge, ifname: 'eth1', mac: '02:42:0a:d5:07:03', ip: '10.213.7.3', prefix: 24, gateway: '10.213.7.1' });
    assert.match(inNs(['route', 'show', 'default']), /default via 10\.213\.7\.1 dev eth0/);
    await assert.rejects(
      netAttach({ pid: holder!.pid, hostVeth: `${hostVeth}c`, bridge, ifname: 'eth2', mac: 'zz', ip: '10.213.7.4', prefix: 24, gateway: '10.213.7.1' }),
      /invalid MAC address zz/,
    );
    await assert.rejects(
      netAttach({ pid: holder!.pid, hostVeth, bridge, ifname: 'eth3', mac: '02:42:0a:d5:07:05', ip: '10.213.7.5', prefix: 24, gateway: '10.213.7.1' }),
      /RTM_NEWLINK veth|File exists/,
    );
    execFileSync('ip', ['link', 'del', `${hostVeth}b`]);
  });
});
