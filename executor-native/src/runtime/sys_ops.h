/* Every privileged call the runtime makes goes through this table (youki's
 * lesson): `sys_real` talks to the kernel, `sys_fake` records each call as a
 * line of text so the namespace/mount/cgroup sequences are unit-tested
 * without root. Reads of plain files (config, passwd) do not go through it. */
#ifndef BERTH_SYS_OPS_H
#define BERTH_SYS_OPS_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

struct sock_fprog;

struct sys_ops {
	int (*mount)(const char *src, const char *target, const char *type, unsigned long flags, const char *data);
	int (*umount2)(const char *target, int flags);
	int (*pivot_root)(const char *new_root, const char *put_old);
	int (*unshare)(int flags);
	int (*setns)(int fd, int nstype);
	int (*open)(const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	int (*sethostname)(const char *name, size_t len);
	int (*setdomainname)(const char *name, size_t len);
	int (*mkdir)(const char *path, mode_t mode);
	int (*rmdir)(const char *path);
	int (*mknod)(const char *path, mode_t mode, dev_t dev);
	int (*symlink)(const char *target, const char *linkpath);
	int (*chdir)(const char *path);
	int (*fchdir)(int fd);
	int (*stat)(const char *path, struct stat *st);
	/* writes a whole small file (cgroup knobs, /proc/self/oom_score_adj) */
	int (*write_file)(const char *path, const char *data);
	/* reads up to len-1 bytes, NUL-terminates; returns bytes read or -1 */
	ssize_t (*read_file)(const char *path, char *buf, size_t len);
	int (*setrlimit)(int resource, const struct rlimit *rl);
	int (*setgroups)(size_t n, const gid_t *groups);
	int (*setresgid)(gid_t r, gid_t e, gid_t s);
	int (*setresuid)(uid_t r, uid_t e, uid_t s);
	int (*prctl)(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
	int (*capset)(void *hdr, void *data);
	int (*seccomp_load)(const struct sock_fprog *prog);
	pid_t (*fork)(void);
};

extern const struct sys_ops sys_real;
extern const struct sys_ops *sys; /* the table in use; tests point it at sys_fake */

/* Recording fake */
extern const struct sys_ops sys_fake;
const char *fake_log(void);         /* every call, one per line */
void fake_reset(void);
/* make the n-th call (1-based, any op) whose log line starts with `prefix` fail with err */
void fake_fail_on(const char *prefix, int err);
/* content returned by read_file for a path (else ENOENT); stat of a listed path says dir unless is_file */
void fake_set_file(const char *path, const char *content);

#endif
