/* cgroup v2: one unified tree, /sys/fs/cgroup/<path>; controllers are enabled
 * top-down through cgroup.subtree_control. */
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
#include <time.h>

static void dir_of(const char *path, char *out, size_t len) { snprintf(out, len, "%s/%s", cgroup_root(), path); }

/* enable what the parent offers (a missing controller is not an error) */
static void enable_controllers(const char *parent, const char *dir)
{
	(void)dir;
	static const char *want[] = {"+cpu", "+cpuset", "+memory", "+pids", "+io"};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		cg_write(parent, "cgroup.subtree_control", want[i]);
}

static int apply(const char *path, const struct resources *r, struct cg_warnings *w)
{
	char d[PATH_MAX], buf[64];
	dir_of(path, d, sizeof d);
	if (r->has_memory) {
		if (r->mem_limit) {
			if (r->mem_limit < 0 ? cg_write(d, "memory.max", "max") < 0 : cg_write_i64(d, "memory.max", r->mem_limit) < 0)
				return -1;
		}
		if (r->mem_swap) {
			/* OCI swap is memory+swap; v2 swap.max is swap alone */
			if (!cg_exists(d, "memory.swap.max") && sys == &sys_real)
				cg_warn(w, "swap limit not supported by the kernel; swap left unlimited");
			else if (r->mem_swap < 0 ? cg_write(d, "memory.swap.max", "max") < 0
				 : cg_write_i64(d, "memory.swap.max", r->mem_swap - (r->mem_limit > 0 ? r->mem_limit : 0)) < 0)
				return -1;
		}
		if (r->mem_reservation && cg_write_i64(d, "memory.low", r->mem_reservation) < 0)
			return -1;
		if (r->disable_oom_killer)
			cg_warn(w, "disabling the OOM killer is not supported on cgroup v2");
	}
	if (r->cpu_shares) {
		unsigned long long weight = 1 + ((r->cpu_shares < 2 ? 0 : r->cpu_shares - 2) * 9999) / 262142;
		if (cg_write_i64(d, "cpu.weight", (long long)weight) < 0)
			return -1;
	}
	if (r->cpu_quota || r->cpu_period) {
		if (r->cpu_quota > 0)
			snprintf(buf, sizeof buf, "%lld %llu", (long long)r->cpu_quota,
				 (unsigned long long)(r->cpu_period ? r->cpu_period : 100000));
		else
			snprintf(buf, sizeof buf, "max %llu", (unsigned long long)(r->cpu_period ? r->cpu_period : 100000));
		if (cg_write(d, "cpu.max", buf) < 0)
			return -1;
	}
	if (r->cpus && cg_write(d, "cpuset.cpus", r->cpus) < 0)
		return -1;
	if (r->mems && cg_write(d, "cpuset.mems", r->mems) < 0)
		return -1;
	if (r->pids_limit) {
		if (r->pids_limit < 0 ? cg_write(d, "pids.max", "max") < 0 : cg_write_i64(d, "pids.max", r->pids_limit) < 0)
			return -1;
	}
	if (r->blkio_weight) {
		long long weight = 1 + ((long long)(r->blkio_weight < 10 ? 10 : r->blkio_weight) - 10) * 9999 / 990;
		if (cg_write_i64(d, "io.weight", weight) < 0)
			cg_warn(w, "io.weight not supported; blkio weight discarded");
	}
	if (r->set_devices && !r->devices_allow_all)
		cg_warn(w, "device access rules need an eBPF program on cgroup v2 (not applied)");
	return 0;
}

int cg2_create(const char *path, const struct resources *r, struct cg_warnings *w)
{
	/* the leaf must be created with controllers enabled in each ancestor */
	char full[PATH_MAX];
	snprintf(full, sizeof full, "%s", path);
	if (cg_mkdir_p(cgroup_root(), full, enable_controllers) < 0)
		return -1;
	return r ? apply(path, r, w) : 0;
}

int cg2_update(const char *path, const struct resources *r, struct cg_warnings *w) { return apply(path, r, w); }

int cg2_attach(const char *path, pid_t pid)
{
	char d[PATH_MAX], buf[16];
	dir_of(path, d, sizeof d);
	snprintf(buf, sizeof buf, "%d", (int)pid);
	return cg_write(d, "cgroup.procs", buf);
}

int cg2_freeze(const char *path, bool freeze)
{
	char d[PATH_MAX], buf[256];
	dir_of(path, d, sizeof d);
	if (cg_write(d, "cgroup.freeze", freeze ? "1" : "0") < 0)
		return -1;
	for (int i = 0; i < 2000; i++) {
		if (cg_read(d, "cgroup.events", buf, sizeof buf) < 0)
			return -1;
		char *f = strstr(buf, "frozen ");
		if (f && (f[7] == '1') == freeze)
			return 0;
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return failf("cgroup", "write", d, ETIMEDOUT, "cgroup.freeze did not take effect");
}

int cg2_kill(const char *path, int sig)
{
	char d[PATH_MAX];
	dir_of(path, d, sizeof d);
	if (sig == SIGKILL && cg_exists(d, "cgroup.kill"))
		return cg_write(d, "cgroup.kill", "1");
	return cg_kill_procs(d, sig) < 0 ? -1 : 0;
}

int cg2_remove(const char *path)
{
	char d[PATH_MAX];
	dir_of(path, d, sizeof d);
	if (cg_exists(d, "cgroup.freeze"))
		cg_write(d, "cgroup.freeze", "0");
	for (int round = 0; round < 100; round++) {
		int n = cg_kill_procs(d, SIGKILL);
		if (n <= 0)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return cg_rmdir(d);
}

static long long kv(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

struct json_object *cg2_stats(const char *path)
{
	char d[PATH_MAX];
	static char buf[16384];
	dir_of(path, d, sizeof d);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(2));

	struct json_object *cs = json_object_new_object();
	cg_add_kv_file(cs, d, "cpu.stat");
	struct json_object *cpu = json_object_new_object();
	json_object_object_add(cpu, "usage_total", json_object_new_int64(kv(cs, "usage_usec") * 1000));
	json_object_object_add(cpu, "usage_percpu", json_object_new_array());
	json_object_object_add(cpu, "usage_user", json_object_new_int64(kv(cs, "user_usec") * 1000));
	json_object_object_add(cpu, "usage_system", json_object_new_int64(kv(cs, "system_usec") * 1000));
	struct json_object *thr = json_object_new_object();
	json_object_object_add(thr, "periods", json_object_new_int64(kv(cs, "nr_periods")));
	json_object_object_add(thr, "throttled_periods", json_object_new_int64(kv(cs, "nr_throttled")));
	json_object_object_add(thr, "throttled_time", json_object_new_int64(kv(cs, "throttled_usec") * 1000));
	json_object_object_add(cpu, "throttling", thr);
	json_object_put(cs);
	json_object_object_add(o, "cpu", cpu);

	struct json_object *mem = json_object_new_object();
	json_object_object_add(mem, "usage", json_object_new_int64(cg_read_i64(d, "memory.current", 0)));
	json_object_object_add(mem, "max_usage", json_object_new_int64(cg_read_i64(d, "memory.peak", 0)));
	json_object_object_add(mem, "limit", json_object_new_int64(cg_read_i64(d, "memory.max", 0)));
	struct json_object *ev = json_object_new_object();
	cg_add_kv_file(ev, d, "memory.events");
	json_object_object_add(mem, "failcnt", json_object_new_int64(kv(ev, "max")));
	json_object_object_add(mem, "oom_events", json_object_new_int64(kv(ev, "oom")));
	json_object_object_add(mem, "oom_kill", json_object_new_int64(kv(ev, "oom_kill")));
	json_object_object_add(mem, "under_oom", json_object_new_boolean(0));
	json_object_put(ev);
	struct json_object *ms = json_object_new_object();
	cg_add_kv_file(ms, d, "memory.stat");
	json_object_object_add(mem, "stats", ms);
	json_object_object_add(o, "memory", mem);

	struct json_object *pids = json_object_new_object();
	json_object_object_add(pids, "current", json_object_new_int64(cg_read_i64(d, "pids.current", 0)));
	json_object_object_add(pids, "limit", json_object_new_int64(cg_read_i64(d, "pids.max", 0)));
	json_object_object_add(o, "pids", pids);

	struct json_object *blk = json_object_new_object();
	struct json_object *bytes = json_object_new_array(), *ios = json_object_new_array();
	if (cg_read(d, "io.stat", buf, sizeof buf) == 0) {
		char *save = NULL;
		for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			unsigned maj, min;
			long long rb = 0, wb = 0, rio = 0, wio = 0;
			if (sscanf(line, "%u:%u", &maj, &min) != 2)
				continue;
			char *p;
			if ((p = strstr(line, "rbytes="))) rb = atoll(p + 7);
			if ((p = strstr(line, "wbytes="))) wb = atoll(p + 7);
			if ((p = strstr(line, "rios="))) rio = atoll(p + 5);
			if ((p = strstr(line, "wios="))) wio = atoll(p + 5);
			const char *ops[] = {"Read", "Write"};
			long long bv[] = {rb, wb}, iv[] = {rio, wio};
			for (int k = 0; k < 2; k++) {
				struct json_object *e = json_object_new_object();
				json_object_object_add(e, "major", json_object_new_int((int)maj));
				json_object_object_add(e, "minor", json_object_new_int((int)min));
				json_object_object_add(e, "op", json_object_new_string(ops[k]));
				json_object_object_add(e, "value", json_object_new_int64(bv[k]));
				json_object_array_add(bytes, e);
				e = json_object_new_object();
				json_object_object_add(e, "major", json_object_new_int((int)maj));
				json_object_object_add(e, "minor", json_object_new_int((int)min));
				json_object_object_add(e, "op", json_object_new_string(ops[k]));
				json_object_object_add(e, "value", json_object_new_int64(iv[k]));
				json_object_array_add(ios, e);
			}
		}
	}
	json_object_object_add(blk, "io_service_bytes_recursive", bytes);
	json_object_object_add(blk, "io_serviced_recursive", ios);
	json_object_object_add(o, "blkio", blk);
	return o;
}
