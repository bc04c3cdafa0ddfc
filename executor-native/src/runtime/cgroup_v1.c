/* cgroup v1: one directory per controller hierarchy, /sys/fs/cgroup/<ctrl>/<path>. */
#define _GNU_SOURCE
#include "cgroup.h"
#include "error.h"
#include "sys_ops.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *controllers[] = {"memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer", "devices"};
#define NCTRL (sizeof controllers / sizeof controllers[0])

static void dir_of(const char *ctrl, const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/%s", cgroup_root(), ctrl, path);
}

static int mounted(const char *ctrl)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", cgroup_root(), ctrl);
	return sys->stat(p, &st) == 0;
}

/* a new cpuset group starts empty: tasks cannot join until cpus/mems are copied down */
static void cpuset_inherit(const char *parent, const char *dir)
{
	char buf[256];
	if (cg_read(parent, "cpuset.cpus", buf, sizeof buf) == 0)
		cg_write(dir, "cpuset.cpus", buf);
	if (cg_read(parent, "cpuset.mems", buf, sizeof buf) == 0)
		cg_write(dir, "cpuset.mems", buf);
}

static const char *default_devices[] = {
	"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
	"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
};

static int apply(const char *path, const struct resources *r, struct cg_warnings *w, int creating)
{
	char d[PATH_MAX];
	if (r->has_memory && mounted("memory")) {
		dir_of("memory", path, d, sizeof d);
		int has_sw = cg_exists(d, "memory.memsw.limit_in_bytes") || !creating;
		if (r->mem_limit) {
			/* memsw must stay >= limit: order the two writes by direction */
			if (cg_write_i64(d, "memory.limit_in_bytes", r->mem_limit) < 0) {
				if (!(r->mem_swap && has_sw && cg_write_i64(d, "memory.memsw.limit_in_bytes", r->mem_swap) == 0 &&
				      cg_write_i64(d, "memory.limit_in_bytes", r->mem_limit) == 0))
					return -1;
			} else if (r->mem_swap && has_sw && cg_write_i64(d, "memory.memsw.limit_in_bytes", r->mem_swap) < 0) {
				return -1;
			}
		} else if (r->mem_swap && has_sw && cg_write_i64(d, "memory.memsw.limit_in_bytes", r->mem_swap) < 0) {
			return -1;
		}
		if (r->mem_swap && !has_sw)
			cg_warn(w, "swap limit not supported by the kernel (no memory.memsw); swap left unlimited");
		if (r->mem_reservation && cg_write_i64(d, "memory.soft_limit_in_bytes", r->mem_reservation) < 0)
			return -1;
		if (r->disable_oom_killer && cg_write(d, "memory.oom_control", "1") < 0)
			return -1;
	}
	if (mounted("cpu")) {
		dir_of("cpu", path, d, sizeof d);
		if (r->cpu_shares && cg_write_i64(d, "cpu.shares", (long long)r->cpu_shares) < 0)
			return -1;
		if (r->cpu_period && cg_write_i64(d, "cpu.cfs_period_us", (long long)r->cpu_period) < 0)
			return -1;
		if (r->cpu_quota && cg_write_i64(d, "cpu.cfs_quota_us", r->cpu_quota) < 0)
			return -1;
	}
	if ((r->cpus || r->mems) && mounted("cpuset")) {
		dir_of("cpuset", path, d, sizeof d);
		if (r->cpus && cg_write(d, "cpuset.cpus", r->cpus) < 0)
			return -1;
		if (r->mems && cg_write(d, "cpuset.mems", r->mems) < 0)
			return -1;
	}
	if (r->pids_limit && mounted("pids")) {
		dir_of("pids", path, d, sizeof d);
		if (r->pids_limit < 0 ? cg_write(d, "pids.max", "max") < 0 : cg_write_i64(d, "pids.max", r->pids_limit) < 0)
			return -1;
	}
	if (r->blkio_weight && mounted("blkio")) {
		dir_of("blkio", path, d, sizeof d);
		const char *f = cg_exists(d, "blkio.weight") ? "blkio.weight"
				: cg_exists(d, "blkio.bfq.weight") ? "blkio.bfq.weight" : NULL;
		if (!f)
			cg_warn(w, "Your kernel does not support Block I/O weight; weight discarded");
		else if (cg_write_i64(d, f, r->blkio_weight) < 0)
			return -1;
	}
	if (creating && r->set_devices && mounted("devices")) {
		dir_of("devices", path, d, sizeof d);
		if (r->devices_allow_all) {
			if (cg_write(d, "devices.allow", "a") < 0)
				return -1;
		} else {
			if (cg_write(d, "devices.deny", "a") < 0)
				return -1;
			for (size_t i = 0; i < sizeof default_devices / sizeof default_devices[0]; i++)
				if (cg_write(d, "devices.allow", default_devices[i]) < 0)
					return -1;
		}
	}
	return 0;
}

int cg1_create(const char *path, const struct resources *r, struct cg_warnings *w)
{
	for (size_t i = 0; i < NCTRL; i++) {
		if (!mounted(controllers[i]))
			continue;
		char root[PATH_MAX];
		snprintf(root, sizeof root, "%s/%s", cgroup_root(), controllers[i]);
		if (cg_mkdir_p(root, path, strcmp(controllers[i], "cpuset") == 0 ? cpuset_inherit : NULL) < 0)
			return -1;
	}
	return r ? apply(path, r, w, 1) : 0;
}

int cg1_update(const char *path, const struct resources *r, struct cg_warnings *w) { return apply(path, r, w, 0); }

int cg1_attach(const char *path, pid_t pid)
{
	char d[PATH_MAX], buf[16];
	snprintf(buf, sizeof buf, "%d", (int)pid);
	for (size_t i = 0; i < NCTRL; i++) {
		if (!mounted(controllers[i]))
			continue;
		dir_of(controllers[i], path, d, sizeof d);
		if (cg_write(d, "cgroup.procs", buf) < 0)
			return -1;
	}
	return 0;
}

int cg1_freeze(const char *path, bool freeze)
{
	char d[PATH_MAX], buf[32];
	dir_of("freezer", path, d, sizeof d);
	const char *want = freeze ? "FROZEN" : "THAWED";
	for (int i = 0; i < 1000; i++) {
		/* FREEZING may stall while tasks are in uninterruptible sleep: rewrite and poll */
		if (cg_write(d, "freezer.state", want) < 0)
			return -1;
		if (cg_read(d, "freezer.state", buf, sizeof buf) < 0)
			return -1;
		if (strncmp(buf, want, strlen(want)) == 0)
			return 0;
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return failf("cgroup", "write", d, ETIMEDOUT, "freezer.state did not reach %s", want);
}

int cg1_kill(const char *path, int sig)
{
	char d[PATH_MAX];
	for (size_t i = 0; i < NCTRL; i++) {
		if (!mounted(controllers[i]))
			continue;
		dir_of(controllers[i], path, d, sizeof d);
		if (cg_kill_procs(d, sig) < 0)
			return -1;
	}
	return 0;
}

int cg1_remove(const char *path)
{
	char d[PATH_MAX], fz[PATH_MAX];
	dir_of("freezer", path, fz, sizeof fz);
	/* a frozen group never lets SIGKILL through */
	if (mounted("freezer") && cg_exists(fz, "freezer.state"))
		cg_write(fz, "freezer.state", "THAWED");
	for (int round = 0; round < 100; round++) {
		int n = 0;
		for (size_t i = 0; i < NCTRL; i++) {
			if (!mounted(controllers[i]))
				continue;
			dir_of(controllers[i], path, d, sizeof d);
			int k = cg_kill_procs(d, SIGKILL);
			n += k > 0 ? k : 0;
		}
		if (!n)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < NCTRL; i++) {
		if (!mounted(controllers[i]))
			continue;
		dir_of(controllers[i], path, d, sizeof d);
		if (cg_rmdir(d) < 0)
			return -1;
	}
	return 0;
}

static void blkio_entries(struct json_object *out, const char *key, const char *dir, const char *file)
{
	static char buf[16384];
	struct json_object *arr = json_object_new_array();
	if (cg_read(dir, file, buf, sizeof buf) == 0) {
		char *save = NULL;
		for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			unsigned maj, min;
			char op[32];
			long long v;
			if (sscanf(line, "%u:%u %31s %lld", &maj, &min, op, &v) != 4)
				continue;
			struct json_object *e = json_object_new_object();
			json_object_object_add(e, "major", json_object_new_int((int)maj));
			json_object_object_add(e, "minor", json_object_new_int((int)min));
			json_object_object_add(e, "op", json_object_new_string(op));
			json_object_object_add(e, "value", json_object_new_int64(v));
			json_object_array_add(arr, e);
		}
	}
	json_object_object_add(out, key, arr);
}

struct json_object *cg1_stats(const char *path)
{
	char d[PATH_MAX];
	static char buf[16384];
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(1));

	struct json_object *cpu = json_object_new_object();
	dir_of("cpuacct", path, d, sizeof d);
	json_object_object_add(cpu, "usage_total", json_object_new_int64(cg_read_i64(d, "cpuacct.usage", 0)));
	struct json_object *percpu = json_object_new_array();
	if (cg_read(d, "cpuacct.usage_percpu", buf, sizeof buf) == 0) {
		char *p = buf, *end;
		for (;;) {
			long long v = strtoll(p, &end, 10);
			if (end == p)
				break;
			json_object_array_add(percpu, json_object_new_int64(v));
			p = end;
		}
	}
	json_object_object_add(cpu, "usage_percpu", percpu);
	struct json_object *st = json_object_new_object();
	cg_add_kv_file(st, d, "cpuacct.stat");
	long tick = sysconf(_SC_CLK_TCK);
	struct json_object *v;
	long long ns_per_tick = 1000000000LL / (tick > 0 ? tick : 100);
	json_object_object_add(cpu, "usage_user", json_object_new_int64(
		json_object_object_get_ex(st, "user", &v) ? json_object_get_int64(v) * ns_per_tick : 0));
	json_object_object_add(cpu, "usage_system", json_object_new_int64(
		json_object_object_get_ex(st, "system", &v) ? json_object_get_int64(v) * ns_per_tick : 0));
	json_object_put(st);
	struct json_object *cs = json_object_new_object();
	dir_of("cpu", path, d, sizeof d);
	cg_add_kv_file(cs, d, "cpu.stat");
	struct json_object *thr = json_object_new_object();
	json_object_object_add(thr, "periods", json_object_new_int64(
		json_object_object_get_ex(cs, "nr_periods", &v) ? json_object_get_int64(v) : 0));
	json_object_object_add(thr, "throttled_periods", json_object_new_int64(
		json_object_object_get_ex(cs, "nr_throttled", &v) ? json_object_get_int64(v) : 0));
	json_object_object_add(thr, "throttled_time", json_object_new_int64(
		json_object_object_get_ex(cs, "throttled_time", &v) ? json_object_get_int64(v) : 0));
	json_object_put(cs);
	json_object_object_add(cpu, "throttling", thr);
	json_object_object_add(o, "cpu", cpu);

	struct json_object *mem = json_object_new_object();
	dir_of("memory", path, d, sizeof d);
	json_object_object_add(mem, "usage", json_object_new_int64(cg_read_i64(d, "memory.usage_in_bytes", 0)));
	json_object_object_add(mem, "max_usage", json_object_new_int64(cg_read_i64(d, "memory.max_usage_in_bytes", 0)));
	json_object_object_add(mem, "limit", json_object_new_int64(cg_read_i64(d, "memory.limit_in_bytes", 0)));
	json_object_object_add(mem, "failcnt", json_object_new_int64(cg_read_i64(d, "memory.failcnt", 0)));
	struct json_object *oc = json_object_new_object();
	cg_add_kv_file(oc, d, "memory.oom_control");
	long long oom_kill = json_object_object_get_ex(oc, "oom_kill", &v) ? json_object_get_int64(v) : 0;
	int under = json_object_object_get_ex(oc, "under_oom", &v) ? (int)json_object_get_int64(v) : 0;
	json_object_put(oc);
	json_object_object_add(mem, "oom_events", json_object_new_int64(oom_kill));
	json_object_object_add(mem, "oom_kill", json_object_new_int64(oom_kill));
	json_object_object_add(mem, "under_oom", json_object_new_boolean(under));
	struct json_object *ms = json_object_new_object();
	cg_add_kv_file(ms, d, "memory.stat");
	json_object_object_add(mem, "stats", ms);
	json_object_object_add(o, "memory", mem);

	struct json_object *pids = json_object_new_object();
	dir_of("pids", path, d, sizeof d);
	json_object_object_add(pids, "current", json_object_new_int64(cg_read_i64(d, "pids.current", 0)));
	json_object_object_add(pids, "limit", json_object_new_int64(cg_read_i64(d, "pids.max", 0)));
	json_object_object_add(o, "pids", pids);

	struct json_object *blk = json_object_new_object();
	dir_of("blkio", path, d, sizeof d);
	blkio_entries(blk, "io_service_bytes_recursive", d, "blkio.throttle.io_service_bytes_recursive");
	blkio_entries(blk, "io_serviced_recursive", d, "blkio.throttle.io_serviced_recursive");
	json_object_object_add(o, "blkio", blk);
	return o;
}
