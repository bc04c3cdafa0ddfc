#define _GNU_SOURCE
#include "cgroup.h"

#include "error.h"
#include "sys_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static int cg_ver;
static char cg_root_path[PATH_MAX] = "/sys/fs/cgroup";

void cgroup_force(int version, const char *root)
{
	cg_ver = version;
	snprintf(cg_root_path, sizeof cg_root_path, "%s", root);
}

const char *cgroup_root(void) { return cg_root_path; }

int cgroup_version(void)
{
	if (!cg_ver) {
		struct statfs s;
		/* hybrid (v1 controllers + a cgroup2 at unified/) counts as v1 */
		cg_ver = statfs(cg_root_path, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC ? 2 : 1;
	}
	return cg_ver;
}

static int valid_path(const char *path)
{
	if (!path || !*path || path[0] == '/' || strstr(path, ".."))
		return fail("cgroup", "validate", path ? path : "", EINVAL);
	return 0;
}

#define DISPATCH(call, ...) (cgroup_version() == 2 ? cg2_##call(__VA_ARGS__) : cg1_##call(__VA_ARGS__))

int cgroup_create(const char *path, const struct resources *r, struct cg_warnings *w)
{
	return valid_path(path) < 0 ? -1 : DISPATCH(create, path, r, w);
}
int cgroup_update(const char *path, const struct resources *r, struct cg_warnings *w)
{
	return valid_path(path) < 0 ? -1 : DISPATCH(update, path, r, w);
}
int cgroup_attach(const char *path, pid_t pid) { return valid_path(path) < 0 ? -1 : DISPATCH(attach, path, pid); }
int cgroup_freeze(const char *path, bool f) { return valid_path(path) < 0 ? -1 : DISPATCH(freeze, path, f); }
int cgroup_kill(const char *path, int sig) { return valid_path(path) < 0 ? -1 : DISPATCH(kill, path, sig); }
int cgroup_remove(const char *path) { return valid_path(path) < 0 ? -1 : DISPATCH(remove, path); }

struct json_object *cgroup_stats(const char *path, pid_t pid)
{
	if (valid_path(path) < 0)
		return NULL;
	struct json_object *o = cgroup_version() == 2 ? cg2_stats(path) : cg1_stats(path);
	if (o && pid > 0) {
		struct json_object *net = cg_network_stats(pid);
		if (net)
			json_object_object_add(o, "network", net);
	}
	return o;
}

/* The cgroup.procs files of every hierarchy `target` is in, opened for writing (up to max). */
int cgroup_open_pid_cgroups(pid_t target, int *fds, int max)
{
	char file[64], buf[8192];
	snprintf(file, sizeof file, "/proc/%d/cgroup", (int)target);
	if (sys->read_file(file, buf, sizeof buf) < 0)
		return fail("cgroup", "open", file, errno);
	int n = 0;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* "<id>:<controllers>:<path>" */
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = 0;
		*c2 = 0;
		const char *ctrls = c1 + 1, *cpath = c2 + 1;
		char dir[PATH_MAX + 128];
		if (cgroup_version() == 2) {
			if (*ctrls)
				continue;
			snprintf(dir, sizeof dir, "%s%s/cgroup.procs", cg_root_path, cpath);
		} else {
			if (!*ctrls || strncmp(ctrls, "name=", 5) == 0)
				continue;
			char first[64];
			snprintf(first, sizeof first, "%s", ctrls);
			char *comma = strchr(first, ',');
			if (comma)
				*comma = 0;
			snprintf(dir, sizeof dir, "%s/%s%s/cgroup.procs", cg_root_path, first, cpath);
		}
		if (n >= max)
			break;
		int fd = sys->open(dir, O_WRONLY | O_CLOEXEC, 0);
		if (fd < 0) {
			int e = errno;
			cgroup_close_fds(fds, n);
			return fail("cgroup", "open", dir, e);
		}
		fds[n++] = fd;
	}
	return n;
}

/* Moves `pid` into each group (the files cgroup_open_pid_cgroups opened), then closes them. */
int cgroup_write_pid_fds(int *fds, int n, pid_t pid)
{
	char pidbuf[16];
	int len = snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	for (int i = 0; i < n; i++) {
		if (fds[i] >= 0 && write(fds[i], pidbuf, (size_t)len) != len) {
			int e = errno;
			cgroup_close_fds(fds, n);
			return fail("cgroup", "write", "cgroup.procs", e);
		}
	}
	cgroup_close_fds(fds, n);
	return 0;
}

void cgroup_close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0) {
			sys->close(fds[i]);
			fds[i] = -1;
		}
}

void cg_warn(struct cg_warnings *w, const char *fmt, ...)
{
	if (!w || w->n >= 8)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->text[w->n++], sizeof w->text[0], fmt, ap);
	va_end(ap);
}

int cg_write(const char *dir, const char *file, const char *value)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", dir, file);
	if (sys->write_file(p, value) < 0) {
		int e = errno;
		return failf("cgroup", "write", p, e, "write `%s` to `%s`: %s", value, p, strerror(e));
	}
	return 0;
}

int cg_write_i64(const char *dir, const char *file, long long v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", v);
	return cg_write(dir, file, buf);
}

int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", dir, file);
	if (sys->read_file(p, buf, len) < 0)
		return fail("cgroup", "read", p, errno);
	return 0;
}

long long cg_read_i64(const char *dir, const char *file, long long dflt)
{
	char buf[64];
	if (cg_read(dir, file, buf, sizeof buf) < 0)
		return dflt;
	if (strncmp(buf, "max", 3) == 0)
		return 0;
	return strtoll(buf, NULL, 10);
}

int cg_exists(const char *dir, const char *file)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, file);
	return stat(p, &st) == 0;
}

int cg_mkdir_p(const char *root, const char *path, void (*each_new)(const char *parent, const char *dir))
{
	char cur[PATH_MAX], parent[PATH_MAX], rest[PATH_MAX];
	snprintf(cur, sizeof cur, "%s", root);
	snprintf(rest, sizeof rest, "%s", path);
	char *save = NULL;
	for (char *comp = strtok_r(rest, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		snprintf(parent, sizeof parent, "%s", cur);
		size_t l = strlen(cur);
		snprintf(cur + l, sizeof cur - l, "/%s", comp);
		if (sys->mkdir(cur, 0755) == 0) {
			if (each_new)
				each_new(parent, cur);
		} else if (errno != EEXIST) {
			return fail("cgroup", "mkdir", cur, errno);
		}
	}
	return 0;
}

int cg_rmdir(const char *dir)
{
	/* the kernel keeps a group busy for a moment after its last task exits */
	for (int i = 0; i < 200; i++) {
		if (sys->rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return fail("cgroup", "rmdir", dir, errno);
}

int cg_kill_procs(const char *dir, int sig)
{
	static char buf[65536];
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/cgroup.procs", dir);
	if (sys->read_file(p, buf, sizeof buf) < 0)
		return errno == ENOENT ? 0 : fail("cgroup", "read", p, errno);
	int n = 0;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		pid_t pid = (pid_t)atoi(line);
		if (pid > 0 && kill(pid, sig) == 0)
			n++;
	}
	return n;
}

/* "key value" lines into obj[key] = value */
void cg_add_kv_file(struct json_object *obj, const char *dir, const char *file)
{
	static char buf[16384];
	if (cg_read(dir, file, buf, sizeof buf) < 0)
		return;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = 0;
		json_object_object_add(obj, line, json_object_new_int64(strtoll(sp + 1, NULL, 10)));
	}
}

struct json_object *cg_network_stats(pid_t pid)
{
	char p[64], buf[16384];
	snprintf(p, sizeof p, "/proc/%d/net/dev", (int)pid);
	if (sys->read_file(p, buf, sizeof buf) < 0)
		return NULL;
	struct json_object *net = json_object_new_object();
	char *save = NULL;
	int lineno = 0;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (++lineno <= 2)
			continue;
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		while (*line == ' ')
			line++;
		if (strcmp(line, "lo") == 0)
			continue;
		unsigned long long v[16] = {0};
		sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		       &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13],
		       &v[14], &v[15]);
		struct json_object *i = json_object_new_object();
		json_object_object_add(i, "rx_bytes", json_object_new_int64((int64_t)v[0]));
		json_object_object_add(i, "rx_packets", json_object_new_int64((int64_t)v[1]));
		json_object_object_add(i, "rx_errors", json_object_new_int64((int64_t)v[2]));
		json_object_object_add(i, "rx_dropped", json_object_new_int64((int64_t)v[3]));
		json_object_object_add(i, "tx_bytes", json_object_new_int64((int64_t)v[8]));
		json_object_object_add(i, "tx_packets", json_object_new_int64((int64_t)v[9]));
		json_object_object_add(i, "tx_errors", json_object_new_int64((int64_t)v[10]));
		json_object_object_add(i, "tx_dropped", json_object_new_int64((int64_t)v[11]));
		json_object_object_add(net, line, i);
	}
	return net;
}
