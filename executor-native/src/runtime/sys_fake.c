/* Recording fake of struct sys_ops: appends one line per call, returns
 * success unless told to fail. Never touches the kernel. */
#define _GNU_SOURCE
#include "sys_ops.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *log_buf;
static size_t log_len, log_cap;
static char fail_prefix[128];
static int fail_err;
static int next_fd = 100;

struct fake_file {
	char path[256];
	char *content;
};
static struct fake_file files[64];
static int nfiles;

static int record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int record(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	line[n] = 0;
	if (log_len + (size_t)n + 1 > log_cap) {
		log_cap = (log_cap + (size_t)n + 1) * 2;
		log_buf = realloc(log_buf, log_cap);
		if (!log_buf)
			abort();
	}
	memcpy(log_buf + log_len, line, (size_t)n + 1);
	log_len += (size_t)n;
	if (fail_prefix[0] && strncmp(line, fail_prefix, strlen(fail_prefix)) == 0) {
		fail_prefix[0] = 0;
		errno = fail_err;
		return -1;
	}
	return 0;
}

const char *fake_log(void) { return log_buf ? log_buf : ""; }
void fake_reset(void)
{
	log_len = 0;
	if (log_buf)
		log_buf[0] = 0;
	fail_prefix[0] = 0;
	for (int i = 0; i < nfiles; i++)
		free(files[i].content);
	nfiles = 0;
	next_fd = 100;
}
void fake_fail_on(const char *prefix, int err)
{
	snprintf(fail_prefix, sizeof fail_prefix, "%s", prefix);
	fail_err = err;
}
void fake_set_file(const char *path, const char *content)
{
	if (nfiles >= 64)
		abort();
	snprintf(files[nfiles].path, sizeof files[nfiles].path, "%s", path);
	files[nfiles].content = strdup(content);
	nfiles++;
}
static struct fake_file *find_file(const char *path)
{
	for (int i = nfiles - 1; i >= 0; i--)
		if (strcmp(files[i].path, path) == 0)
			return &files[i];
	return NULL;
}

#define S(x) ((x) ? (x) : "")
static int f_mount(const char *src, const char *t, const char *type, unsigned long flags, const char *data)
{
	return record("mount %s %s %s 0x%lx %s", S(src), S(t), S(type), flags, S(data));
}
static int f_umount2(const char *t, int flags) { return record("umount2 %s %d", t, flags); }
static int f_pivot_root(const char *n, const char *o) { return record("pivot_root %s %s", n, o); }
static int f_unshare(int flags) { return record("unshare 0x%x", flags); }
static int f_setns(int fd, int nstype) { return record("setns %d 0x%x", fd, nstype); }
static int f_open(const char *p, int flags, mode_t m)
{
	(void)flags;
	(void)m;
	if (record("open %s", p) < 0)
		return -1;
	return next_fd++;
}
static int f_close(int fd) { return record("close %d", fd); }
static int f_sethostname(const char *n, size_t l) { return record("sethostname %.*s", (int)l, n); }
static int f_setdomainname(const char *n, size_t l) { return record("setdomainname %.*s", (int)l, n); }
static int f_mkdir(const char *p, mode_t m) { return record("mkdir %s 0%o", p, m); }
static int f_rmdir(const char *p) { return record("rmdir %s", p); }
static int f_mknod(const char *p, mode_t m, dev_t d)
{
	return record("mknod %s 0%o %u:%u", p, m, (unsigned)(d >> 8) & 0xfff, (unsigned)(d & 0xff));
}
static int f_symlink(const char *t, const char *l) { return record("symlink %s %s", t, l); }
static int f_chdir(const char *p) { return record("chdir %s", p); }
static int f_fchdir(int fd) { return record("fchdir %d", fd); }
static int f_stat(const char *p, struct stat *st)
{
	/* not recorded: a query. Listed files are regular files, everything else a directory. */
	memset(st, 0, sizeof *st);
	st->st_mode = find_file(p) ? (S_IFREG | 0644) : (S_IFDIR | 0755);
	return 0;
}
static int f_write_file(const char *p, const char *d) { return record("write %s %s", p, d); }
static ssize_t f_read_file(const char *p, char *buf, size_t len)
{
	struct fake_file *f = find_file(p);
	if (!f) {
		errno = ENOENT;
		return -1;
	}
	snprintf(buf, len, "%s", f->content);
	return (ssize_t)strlen(buf);
}
static int f_setrlimit(int res, const struct rlimit *rl)
{
	return record("setrlimit %d %llu %llu", res, (unsigned long long)rl->rlim_cur, (unsigned long long)rl->rlim_max);
}
static int f_setgroups(size_t n, const gid_t *g)
{
	char buf[256] = "";
	size_t off = 0;
	for (size_t i = 0; i < n && off < sizeof buf - 16; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%u", i ? "," : "", g[i]);
	return record("setgroups %s", buf);
}
static int f_setresgid(gid_t r, gid_t e, gid_t s) { return record("setresgid %u %u %u", r, e, s); }
static int f_setresuid(uid_t r, uid_t e, uid_t s) { return record("setresuid %u %u %u", r, e, s); }
static int f_prctl(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	(void)a4;
	(void)a5;
	return record("prctl %d %lu %lu", op, a2, a3);
}
static int f_capset(void *hdr, void *data)
{
	(void)hdr;
	const unsigned *d = data; /* struct __user_cap_data_struct[2] */
	return record("capset eff=%08x%08x prm=%08x%08x inh=%08x%08x", d[3], d[0], d[4], d[1], d[5], d[2]);
}
static int f_seccomp_load(const struct sock_fprog *p)
{
	(void)p;
	return record("seccomp_load");
}
static pid_t f_fork(void)
{
	if (record("fork") < 0)
		return -1;
	return 0; /* tests follow the child path */
}

const struct sys_ops sys_fake = {
	.mount = f_mount, .umount2 = f_umount2, .pivot_root = f_pivot_root, .unshare = f_unshare,
	.setns = f_setns, .open = f_open, .close = f_close, .sethostname = f_sethostname,
	.setdomainname = f_setdomainname, .mkdir = f_mkdir, .rmdir = f_rmdir, .mknod = f_mknod,
	.symlink = f_symlink, .chdir = f_chdir, .fchdir = f_fchdir, .stat = f_stat,
	.write_file = f_write_file, .read_file = f_read_file, .setrlimit = f_setrlimit,
	.setgroups = f_setgroups, .setresgid = f_setresgid, .setresuid = f_setresuid,
	.prctl = f_prctl, .capset = f_capset, .seccomp_load = f_seccomp_load, .fork = f_fork,
};
