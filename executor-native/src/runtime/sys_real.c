#define _GNU_SOURCE
#include "sys_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int r_mount(const char *src, const char *target, const char *type, unsigned long flags, const char *data)
{
	return mount(src, target, type, flags, data);
}
static int r_umount2(const char *target, int flags) { return umount2(target, flags); }
static int r_pivot_root(const char *n, const char *o) { return (int)syscall(SYS_pivot_root, n, o); }
static int r_unshare(int flags) { return unshare(flags); }
static int r_setns(int fd, int nstype) { return setns(fd, nstype); }
static int r_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }
static int r_close(int fd) { return close(fd); }
static int r_sethostname(const char *n, size_t l) { return sethostname(n, l); }
static int r_setdomainname(const char *n, size_t l) { return setdomainname(n, l); }
static int r_mkdir(const char *p, mode_t m) { return mkdir(p, m); }
static int r_rmdir(const char *p) { return rmdir(p); }
static int r_mknod(const char *p, mode_t m, dev_t d) { return mknod(p, m, d); }
static int r_symlink(const char *t, const char *l) { return symlink(t, l); }
static int r_chdir(const char *p) { return chdir(p); }
static int r_fchdir(int fd) { return fchdir(fd); }
static int r_stat(const char *p, struct stat *st) { return stat(p, st); }

static int r_write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
	if (fd < 0)
		return -1;
	size_t len = strlen(data);
	ssize_t n = write(fd, data, len);
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return -1;
	}
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static ssize_t r_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off + 1 < len) {
		ssize_t n = read(fd, buf + off, len - 1 - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = 0;
	close(fd);
	return (ssize_t)off;
}

static int r_setrlimit(int res, const struct rlimit *rl) { return setrlimit((__rlimit_resource_t)res, rl); }
static int r_setgroups(size_t n, const gid_t *g) { return setgroups(n, g); }
static int r_setresgid(gid_t r, gid_t e, gid_t s) { return setresgid(r, e, s); }
static int r_setresuid(uid_t r, uid_t e, uid_t s) { return setresuid(r, e, s); }
static int r_prctl(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	return prctl(op, a2, a3, a4, a5);
}
static int r_capset(void *hdr, void *data) { return (int)syscall(SYS_capset, hdr, data); }
static int r_seccomp_load(const struct sock_fprog *prog)
{
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0);
}
static pid_t r_fork(void) { return fork(); }

const struct sys_ops sys_real = {
	.mount = r_mount, .umount2 = r_umount2, .pivot_root = r_pivot_root, .unshare = r_unshare,
	.setns = r_setns, .open = r_open, .close = r_close, .sethostname = r_sethostname,
	.setdomainname = r_setdomainname, .mkdir = r_mkdir, .rmdir = r_rmdir, .mknod = r_mknod,
	.symlink = r_symlink, .chdir = r_chdir, .fchdir = r_fchdir, .stat = r_stat,
	.write_file = r_write_file, .read_file = r_read_file, .setrlimit = r_setrlimit,
	.setgroups = r_setgroups, .setresgid = r_setresgid, .setresuid = r_setresuid,
	.prctl = r_prctl, .capset = r_capset, .seccomp_load = r_seccomp_load, .fork = r_fork,
};

const struct sys_ops *sys = &sys_real;
