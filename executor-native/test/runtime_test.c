/* Unit tests of the runtime sequences against the recording fake of
 * struct sys_ops: no root, no kernel state. Run by `make test` and by
 * src/runtime.spec.ts. */
#define _GNU_SOURCE
#include "../src/runtime/cgroup.h"
#include "../src/runtime/config.h"
#include "../src/runtime/container.h"
#include "../src/runtime/error.h"
#include "../src/runtime/mount.h"
#include "../src/runtime/runtime.h"
#include "../src/runtime/sys_ops.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures, checks;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		checks++;                                                     \
		if (!(cond)) {                                                \
			failures++;                                           \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                         \
			fprintf(stderr, "\n--- log ---\n%s-----------\n", fake_log()); \
		}                                                             \
	} while (0)

/* lines appear in this order (not necessarily adjacent) */
static int in_order(const char *log, const char *const *lines)
{
	const char *p = log;
	for (int i = 0; lines[i]; i++) {
		const char *q = strstr(p, lines[i]);
		if (!q) {
			fprintf(stderr, "missing or out of order: %s\n", lines[i]);
			return 0;
		}
		p = q + strlen(lines[i]);
	}
	return 1;
}

static char cfgpath[] = "/tmp/berth-runtime-test-XXXXXX";

static void write_config(const char *json)
{
	FILE *f = fopen(cfgpath, "w");
	fputs(json, f);
	fclose(f);
}

static const char *base_config =
	"{\"process\":{\"args\":[\"sh\"],\"env\":[\"PATH=/bin\"],\"cwd\":\"/work\",\"user\":{\"username\":\"app\"},"
	"\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_SETPCAP\",\"CAP_SYS_RESOURCE\"],\"effective\":[\"CAP_CHOWN\",\"CAP_SYS_RESOURCE\"],"
	"\"permitted\":[\"CAP_CHOWN\",\"CAP_SYS_RESOURCE\"],\"inheritable\":[]},\"noNewPrivileges\":true,"
	"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":2048}]},"
	"\"root\":{\"path\":\"/nonexistent-root/rootfs\",\"readonly\":true},"
	"\"rootfs\":{\"lowerdirs\":[\"/l/top\",\"/l/bottom\"],\"upperdir\":\"/u\",\"workdir\":\"/w\"},"
	"\"hostname\":\"box\","
	"\"mounts\":[{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"/h/hosts\",\"options\":[\"rbind\",\"ro\",\"rprivate\"]}],"
	"\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/proc/9/ns/net\"},{\"type\":\"mount\"},{\"type\":\"pid\"},{\"type\":\"uts\"},"
	"{\"type\":\"ipc\"},{\"type\":\"cgroup\"}],\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"],"
	"\"cgroupsPath\":\"berth/abc\",\"resources\":{\"memory\":{\"limit\":1000,\"swap\":2000,\"reservation\":500},"
	"\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000},\"pids\":{\"limit\":10}}}}";

static void test_config_parse(void)
{
	struct container_config c;
	write_config(base_config);
	CHECK(config_load(cfgpath, &c) == 0, "config_load: %s", g_err.message);
	CHECK(c.nlowerdirs == 2 && strcmp(c.lowerdirs[0], "/l/top") == 0, "lowerdirs");
	CHECK(c.process.rlimits[0].soft == 1024 && c.process.rlimits[0].hard == 2048, "rlimits");
	CHECK(c.resources.mem_limit == 1000 && c.resources.pids_limit == 10, "resources");
	CHECK(namespaces_flags(&c) == (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP),
	      "flags 0x%x", namespaces_flags(&c));
	config_free(&c);

	write_config("{\"process\":{\"args\":[]},\"root\":{\"path\":\"/r\"}}");
	CHECK(config_load(cfgpath, &c) < 0 && strstr(g_err.message, "no command"), "empty args rejected: %s", g_err.message);
	config_free(&c);
	write_config("{\"process\":{\"args\":[\"x\"],\"capabilities\":{\"bounding\":[\"CAP_NOPE\"]}},\"root\":{\"path\":\"/r\"}}");
	CHECK(config_load(cfgpath, &c) < 0 && strstr(g_err.message, "CAP_NOPE"), "unknown cap rejected");
	config_free(&c);
}

static void test_parent_sequence(void)
{
	struct container_config c;
	write_config(base_config);
	config_load(cfgpath, &c);
	fake_reset();
	cgroup_force(1, "/cg");
	CHECK(container_parent_setup(&c) == 0, "parent setup: %s", g_err.message);
	const char *seq[] = {
		"mkdir /cg/memory/berth 0755", "mkdir /cg/memory/berth/abc 0755",
		"write /cg/memory/berth/abc/memory.limit_in_bytes 1000",
		"write /cg/memory/berth/abc/memory.soft_limit_in_bytes 500",
		"write /cg/cpu/berth/abc/cpu.shares 512", "write /cg/cpu/berth/abc/cpu.cfs_period_us 100000",
		"write /cg/cpu/berth/abc/cpu.cfs_quota_us 50000", "write /cg/pids/berth/abc/pids.max 10",
		"write /cg/devices/berth/abc/devices.deny a", "write /cg/devices/berth/abc/devices.allow c 1:3 rwm",
		"write /cg/memory/berth/abc/cgroup.procs", /* join self before unshare(CLONE_NEWCGROUP) */
		"open /proc/9/ns/net", "setns 100 0x40000000", "close 100",
		"unshare 0x2e020000", NULL,
	};
	CHECK(in_order(fake_log(), seq), "parent sequence");
	config_free(&c);

	/* run mode: the namespaces only, the cgroup namespace left out of the unshare (the child
	 * unshares it once the parent has moved it into its group); after the fork, while the child
	 * mounts, the group is made and the child's pid joins it */
	write_config(base_config);
	config_load(cfgpath, &c);
	fake_reset();
	cgroup_force(1, "/cg");
	CHECK(container_parent_setup_deferred(&c) == 0, "deferred parent setup: %s", g_err.message);
	const char *deferred[] = {"open /proc/9/ns/net", "setns 100 0x40000000", "close 100", "unshare 0x2c020000", NULL};
	CHECK(in_order(fake_log(), deferred), "deferred parent sequence");
	CHECK(!strstr(fake_log(), "/cg/"), "no cgroup work before the fork");
	fake_reset();
	CHECK(container_join_child(&c, 4242, -1) == 0, "join child: %s", g_err.message);
	const char *join[] = {
		"mkdir /cg/memory/berth/abc 0755", "write /cg/devices/berth/abc/devices.allow c 1:3 rwm",
		"write /cg/memory/berth/abc/cgroup.procs 4242", NULL,
	};
	CHECK(in_order(fake_log(), join), "child's group made, then joined");
	config_free(&c);

	/* a failing step names syscall and object */
	write_config(base_config);
	config_load(cfgpath, &c);
	fake_reset();
	fake_fail_on("setns", EINVAL);
	CHECK(container_parent_setup(&c) < 0 && strcmp(g_err.syscall, "setns") == 0 &&
	      strcmp(g_err.object, "/proc/9/ns/net") == 0 && g_err.err == EINVAL && strcmp(g_err.stage, "namespaces") == 0,
	      "setns failure: %s", berr_json());
	config_free(&c);
}

static void test_child_sequence(void)
{
	struct container_config c;
	struct resolved_user u;
	write_config(base_config);
	config_load(cfgpath, &c);
	fake_reset();
	fake_set_file("/h/hosts", "127.0.0.1 localhost\n");
	fake_set_file("/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
	fake_set_file("/etc/group", "app:x:1000:\nstaff:x:50:app,bob\n");
	fake_set_file("/proc/self/status", "Name:\tx\nCapBnd:\t000000000000ffff\n"); /* no CAP_SYS_RESOURCE (24) */
	fake_set_file("/proc/sys/kernel/cap_last_cap", "40\n");
	fake_set_file("/proc/kcore", ""); /* a file: masked with /dev/null */
	CHECK(container_child_setup(&c, &u) == 0, "child setup: %s", g_err.message);
	const char *R = "/nonexistent-root/rootfs";
	char l[32][256];
	int i = 0;
	snprintf(l[i++], 256, "mount  /  0x84000 ");                                  /* rslave / */
	snprintf(l[i++], 256, "mount overlay %s overlay 0x0 lowerdir=/l/top:/l/bottom,upperdir=/u,workdir=/w", R);
	snprintf(l[i++], 256, "mount proc %s/proc proc 0xe", R);
	snprintf(l[i++], 256, "mount tmpfs %s/dev tmpfs 0x1000002 mode=755", R);
	snprintf(l[i++], 256, "mount devpts %s/dev/pts devpts", R);
	snprintf(l[i++], 256, "mount shm %s/dev/shm tmpfs", R);
	snprintf(l[i++], 256, "mount mqueue %s/dev/mqueue mqueue", R);
	snprintf(l[i++], 256, "mount sysfs %s/sys sysfs 0xf", R);
	snprintf(l[i++], 256, "mount /h/hosts %s/etc/hosts  0x5000", R);
	snprintf(l[i++], 256, "mount  %s/etc/hosts  0x1021", R);                  /* remount ro */
	snprintf(l[i++], 256, "mount  %s/etc/hosts  0x44000", R);                 /* rprivate */
	snprintf(l[i++], 256, "mknod %s/dev/null 020666 1:3", R);
	snprintf(l[i++], 256, "symlink pts/ptmx %s/dev/ptmx", R);
	snprintf(l[i++], 256, "pivot_root . .");
	snprintf(l[i++], 256, "umount2 . 2");
	snprintf(l[i++], 256, "chdir /");
	snprintf(l[i++], 256, "mount /dev/null /proc/kcore");
	snprintf(l[i++], 256, "mount /proc/sys /proc/sys  0x5000");
	snprintf(l[i++], 256, "mkdir /work 0755");
	snprintf(l[i++], 256, "mount  /  0x1021");                                 /* read-only root */
	snprintf(l[i++], 256, "sethostname box");
	snprintf(l[i++], 256, "setrlimit 7 1024 2048");
	snprintf(l[i++], 256, "prctl 24 1 0");                                      /* drop CAP_DAC_OVERRIDE from bounding */
	snprintf(l[i++], 256, "setgroups 50");
	snprintf(l[i++], 256, "setresgid 1000 1000 1000");
	snprintf(l[i++], 256, "prctl 8 1 0");                                       /* keepcaps */
	snprintf(l[i++], 256, "setresuid 1000 1000 1000");
	snprintf(l[i++], 256, "capset eff=0000000000000001 prm=0000000000000001 inh=0000000000000000");
	snprintf(l[i++], 256, "prctl 38 1 0");                                      /* no_new_privs */
	snprintf(l[i++], 256, "chdir /work");
	const char *seq[40];
	for (int k = 0; k < i; k++)
		seq[k] = l[k];
	seq[i] = NULL;
	CHECK(in_order(fake_log(), seq), "child sequence");
	CHECK(!strstr(fake_log(), "prctl 24 24 0"), "CAP_SYS_RESOURCE is not in the host bounding set: never touched");
	CHECK(u.uid == 1000 && u.gid == 1000 && u.ngroups == 1 && strcmp(u.home, "/home/app") == 0, "user");
	const char *const *env = container_env(&c.process, &u);
	CHECK(env[1] && strcmp(env[1], "HOME=/home/app") == 0, "HOME added");
	config_free(&c);

	/* pivot_root failure arrives as stage/syscall/object/errno */
	write_config(base_config);
	config_load(cfgpath, &c);
	fake_reset();
	fake_set_file("/h/hosts", "x");
	fake_fail_on("pivot_root", EINVAL);
	CHECK(container_child_setup(&c, &u) < 0 && strcmp(g_err.stage, "pivot_root") == 0 &&
	      strcmp(g_err.syscall, "pivot_root") == 0 && g_err.err == EINVAL, "pivot failure: %s", berr_json());
	config_free(&c);
}

static void test_user_resolution(void)
{
	struct process_config p;
	struct resolved_user u;
	memset(&p, 0, sizeof p);
	fake_reset();
	fake_set_file("/etc/passwd", "app:x:1000:1000::/home/app:/bin/sh\n");
	fake_set_file("/etc/group", "staff:x:50:app\nwheel:x:10:\n");
	p.username = "app:wheel";
	CHECK(user_resolve(&p, &u) == 0 && u.uid == 1000 && u.gid == 10 && u.ngroups == 0, "name:group");
	p.username = "4242";
	CHECK(user_resolve(&p, &u) == 0 && u.uid == 4242 && u.gid == 0, "numeric unknown uid => gid 0");
	p.username = "ghost";
	CHECK(user_resolve(&p, &u) < 0 && strstr(g_err.message, "unable to find user ghost"), "unknown name");
	p.username = "app:nogroup";
	CHECK(user_resolve(&p, &u) < 0 && strstr(g_err.message, "unable to find group nogroup"), "unknown group");
}

static void test_cgroup_v2(void)
{
	struct resources r;
	memset(&r, 0, sizeof r);
	r.has_memory = true;
	r.mem_limit = 1000;
	r.mem_swap = 3000;
	r.cpu_shares = 1024;
	r.cpu_quota = 50000;
	r.cpu_period = 100000;
	r.pids_limit = -1;
	r.blkio_weight = 500;
	fake_reset();
	cgroup_force(2, "/cg2");
	struct cg_warnings w = {0};
	CHECK(cgroup_create("berth/x", &r, &w) == 0, "v2 create: %s", g_err.message);
	const char *seq[] = {
		"mkdir /cg2/berth 0755", "write /cg2/cgroup.subtree_control +cpu", "write /cg2/cgroup.subtree_control +memory",
		"mkdir /cg2/berth/x 0755", "write /cg2/berth/cgroup.subtree_control +pids",
		"write /cg2/berth/x/memory.max 1000", "write /cg2/berth/x/memory.swap.max 2000",
		"write /cg2/berth/x/cpu.weight 39", "write /cg2/berth/x/cpu.max 50000 100000",
		"write /cg2/berth/x/pids.max max", "write /cg2/berth/x/io.weight 4950", NULL,
	};
	CHECK(in_order(fake_log(), seq), "v2 sequence");
	fake_reset();
	CHECK(cgroup_attach("berth/x", 77) == 0 && strstr(fake_log(), "write /cg2/berth/x/cgroup.procs 77"), "v2 attach");
	fake_reset();
	fake_set_file("/cg2/berth/x/cgroup.events", "populated 1\nfrozen 1\n");
	CHECK(cgroup_freeze("berth/x", true) == 0 && strstr(fake_log(), "write /cg2/berth/x/cgroup.freeze 1"), "v2 freeze");
	CHECK(cgroup_create("../escape", &r, &w) < 0, "path escaping the hierarchy rejected");
}

static void test_mount_options(void)
{
	const char *opts[] = {"nosuid", "ro", "size=1m", "rslave", "mode=755"};
	unsigned long f, pf;
	char data[64];
	mount_options(opts, 5, &f, &pf, data, sizeof data);
	CHECK(f == (0x2 | 0x1) && pf == (0x80000 | 0x4000) && strcmp(data, "size=1m,mode=755") == 0,
	      "options: 0x%lx 0x%lx %s", f, pf, data);
}

int main(void)
{
	int fd = mkstemp(cfgpath);
	if (fd < 0)
		return 2;
	close(fd);
	sys = &sys_fake;
	test_config_parse();
	test_parent_sequence();
	test_child_sequence();
	test_user_resolution();
	test_cgroup_v2();
	test_mount_options();
	unlink(cfgpath);
	printf("%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
