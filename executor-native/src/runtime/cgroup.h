/* Cgroups v1 (per-controller hierarchies) and v2 (unified), same operations.
 * Paths are relative to each hierarchy's root, e.g. "berth/<id>". */
#ifndef BERTH_CGROUP_H
#define BERTH_CGROUP_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct json_object;

struct cg_warnings {
	char text[8][160];
	int n;
};

int cgroup_version(void);                      /* 1 or 2 (detected once) */
void cgroup_force(int version, const char *root); /* tests: skip detection */
const char *cgroup_root(void);

int cgroup_create(const char *path, const struct resources *r, struct cg_warnings *w);
int cgroup_update(const char *path, const struct resources *r, struct cg_warnings *w);
int cgroup_attach(const char *path, pid_t pid);
int cgroup_freeze(const char *path, bool freeze);
int cgroup_kill(const char *path, int sig);
int cgroup_remove(const char *path);
struct json_object *cgroup_stats(const char *path, pid_t pid); /* NULL + g_err on failure */
/* exec: joining every group `target` is in, in two steps: open its cgroup.procs files (returns how many), later write a pid */
int cgroup_open_pid_cgroups(pid_t target, int *fds, int max);
int cgroup_write_pid_fds(int *fds, int n, pid_t pid);
void cgroup_close_fds(int *fds, int n);

/* shared helpers (cgroup.c) */
void cg_warn(struct cg_warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cg_write(const char *dir, const char *file, const char *value);
int cg_write_i64(const char *dir, const char *file, long long v);
int cg_read(const char *dir, const char *file, char *buf, size_t len);
long long cg_read_i64(const char *dir, const char *file, long long dflt);
int cg_exists(const char *dir, const char *file);
int cg_mkdir_p(const char *root, const char *path, void (*each_new)(const char *parent, const char *dir));
int cg_rmdir(const char *dir);
int cg_kill_procs(const char *dir, int sig); /* returns number signalled */
void cg_add_kv_file(struct json_object *obj, const char *dir, const char *file);
struct json_object *cg_network_stats(pid_t pid);

/* per version */
int cg1_create(const char *path, const struct resources *r, struct cg_warnings *w);
int cg1_update(const char *path, const struct resources *r, struct cg_warnings *w);
int cg1_attach(const char *path, pid_t pid);
int cg1_freeze(const char *path, bool freeze);
int cg1_kill(const char *path, int sig);
int cg1_remove(const char *path);
struct json_object *cg1_stats(const char *path);
int cg2_create(const char *path, const struct resources *r, struct cg_warnings *w);
int cg2_update(const char *path, const struct resources *r, struct cg_warnings *w);
int cg2_attach(const char *path, pid_t pid);
int cg2_freeze(const char *path, bool freeze);
int cg2_kill(const char *path, int sig);
int cg2_remove(const char *path);
struct json_object *cg2_stats(const char *path);

#endif
