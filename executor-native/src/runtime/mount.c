#define _GNU_SOURCE
#include "mount.h"

#include "container.h"

#include "error.h"
#include "sys_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int secure_join(const char *root, const char *unsafe, char *out, size_t outlen)
{
	char rest[PATH_MAX * 2], cur[PATH_MAX] = "";
	int links = 0;
	snprintf(rest, sizeof rest, "%s", unsafe);
	char *p = rest;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char comp[NAME_MAX + 1];
		if (len > NAME_MAX)
			return fail("mount", "resolve", unsafe, ENAMETOOLONG);
		memcpy(comp, p, len);
		comp[len] = 0;
		p += len;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			char *last = strrchr(cur, '/');
			if (last)
				*last = 0;
			continue;
		}
		char next[PATH_MAX], full[PATH_MAX * 2];
		if ((size_t)snprintf(next, sizeof next, "%s/%s", cur, comp) >= sizeof next)
			return fail("mount", "resolve", unsafe, ENAMETOOLONG);
		snprintf(full, sizeof full, "%s%s", root, next);
		struct stat st;
		if (lstat(full, &st) == 0 && S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlink(full, target, sizeof target - 1);
			if (n < 0)
				return fail("mount", "readlink", full, errno);
			target[n] = 0;
			if (++links > 40)
				return fail("mount", "resolve", unsafe, ELOOP);
			char tmp[PATH_MAX * 2];
			snprintf(tmp, sizeof tmp, "%s/%s", target, p);
			snprintf(rest, sizeof rest, "%s", tmp);
			p = rest;
			if (target[0] == '/')
				cur[0] = 0;
			continue;
		}
		snprintf(cur, sizeof cur, "%s", next);
	}
	if ((size_t)snprintf(out, outlen, "%s%s", root, cur[0] ? cur : "/") >= outlen)
		return fail("mount", "resolve", unsafe, ENAMETOOLONG);
	return 0;
}

static const struct { const char *name; int clear; unsigned long flag; } opt_flags[] = {
	{"ro", 0, MS_RDONLY}, {"rw", 1, MS_RDONLY}, {"nosuid", 0, MS_NOSUID}, {"suid", 1, MS_NOSUID},
	{"nodev", 0, MS_NODEV}, {"dev", 1, MS_NODEV}, {"noexec", 0, MS_NOEXEC}, {"exec", 1, MS_NOEXEC},
	{"sync", 0, MS_SYNCHRONOUS}, {"async", 1, MS_SYNCHRONOUS}, {"remount", 0, MS_REMOUNT},
	{"mand", 0, MS_MANDLOCK}, {"nomand", 1, MS_MANDLOCK}, {"dirsync", 0, MS_DIRSYNC},
	{"noatime", 0, MS_NOATIME}, {"atime", 1, MS_NOATIME}, {"nodiratime", 0, MS_NODIRATIME},
	{"diratime", 1, MS_NODIRATIME}, {"bind", 0, MS_BIND}, {"rbind", 0, MS_BIND | MS_REC},
	{"relatime", 0, MS_RELATIME}, {"norelatime", 1, MS_RELATIME}, {"strictatime", 0, MS_STRICTATIME},
	{"nostrictatime", 1, MS_STRICTATIME}, {"defaults", 0, 0},
};
static const struct { const char *name; unsigned long flag; } opt_prop[] = {
	{"private", MS_PRIVATE}, {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
	{"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE}, {"rslave", MS_SLAVE | MS_REC},
	{"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

void mount_options(const char *const *opts, int n, unsigned long *flags, unsigned long *pflags, char *data,
		   size_t datalen)
{
	*flags = 0;
	*pflags = 0;
	size_t off = 0;
	data[0] = 0;
	for (int i = 0; i < n; i++) {
		int done = 0;
		for (size_t k = 0; !done && k < sizeof opt_flags / sizeof opt_flags[0]; k++)
			if (strcmp(opts[i], opt_flags[k].name) == 0) {
				if (opt_flags[k].clear)
					*flags &= ~opt_flags[k].flag;
				else
					*flags |= opt_flags[k].flag;
				done = 1;
			}
		for (size_t k = 0; !done && k < sizeof opt_prop / sizeof opt_prop[0]; k++)
			if (strcmp(opts[i], opt_prop[k].name) == 0) {
				*pflags |= opt_prop[k].flag;
				done = 1;
			}
		if (!done && off + strlen(opts[i]) + 2 < datalen)
			off += (size_t)snprintf(data + off, datalen - off, "%s%s", off ? "," : "", opts[i]);
	}
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (sys->mkdir(tmp, mode) < 0 && errno != EEXIST)
			return fail("mount", "mkdir", tmp, errno);
		*p = '/';
	}
	if (sys->mkdir(tmp, mode) < 0 && errno != EEXIST)
		return fail("mount", "mkdir", tmp, errno);
	return 0;
}

/* create the mount point: a file for file binds, a directory otherwise */
static int make_target(const char *target, int is_file)
{
	struct stat st;
	if (sys->stat(target, &st) == 0)
		return 0;
	if (!is_file)
		return mkdir_p(target, 0755);
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", target);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		if (mkdir_p(parent, 0755) < 0)
			return -1;
	}
	int fd = sys->open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("mount", "open", target, errno);
	sys->close(fd);
	return 0;
}

static int do_mount(const char *stage, const char *src, const char *target, const char *type, unsigned long flags,
		    unsigned long pflags, const char *data)
{
	char obj[PATH_MAX + 64];
	snprintf(obj, sizeof obj, "%s on %s", src ? src : type, target);
	if (flags & MS_BIND) {
		if (sys->mount(src, target, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
			return fail(stage, "mount", obj, errno);
		unsigned long extra = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
		if (extra &&
		    sys->mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | extra, NULL) < 0)
			return fail(stage, "mount", obj, errno);
	} else if (sys->mount(src, target, type, flags, data && *data ? data : NULL) < 0) {
		return fail(stage, "mount", obj, errno);
	}
	if (pflags && sys->mount(NULL, target, NULL, pflags, NULL) < 0)
		return fail(stage, "mount", obj, errno);
	return 0;
}

int rootfs_prepare(const struct container_config *c)
{
	/* Host mounts must not see ours, and pivot_root refuses a shared parent. */
	if (sys->mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return fail("rootfs", "mount", "rslave /", errno);
	if (c->nlowerdirs > 0) {
		char data[8192];
		size_t off = (size_t)snprintf(data, sizeof data, "lowerdir=");
		for (int i = 0; i < c->nlowerdirs; i++)
			off += (size_t)snprintf(data + off, sizeof data - off, "%s%s", i ? ":" : "", c->lowerdirs[i]);
		if (c->upperdir)
			off += (size_t)snprintf(data + off, sizeof data - off, ",upperdir=%s,workdir=%s", c->upperdir,
						c->workdir);
		if (off >= sizeof data)
			return fail("rootfs", "mount", "overlay options", E2BIG);
		if (mkdir_p(c->root_path, 0755) < 0)
			return -1;
		char obj[PATH_MAX + 32];
		snprintf(obj, sizeof obj, "overlay on %s", c->root_path);
		if (sys->mount("overlay", c->root_path, "overlay", 0, data) < 0)
			return fail("rootfs", "mount", obj, errno);
	} else if (sys->mount(c->root_path, c->root_path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		return fail("rootfs", "mount", c->root_path, errno);
	}
	return 0;
}

struct default_mount {
	const char *dest, *type, *src;
	unsigned long flags;
	const char *data;
};

static const struct default_mount default_mounts[] = {
	{"/proc", "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL},
	{"/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"},
	{"/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
	{"/dev/shm", "tmpfs", "shm", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k"},
	{"/dev/mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL},
	{"/sys", "sysfs", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL},
};

static int has_user_mount(const struct container_config *c, const char *dest)
{
	for (int i = 0; i < c->nmounts; i++)
		if (strcmp(c->mounts[i].destination, dest) == 0)
			return 1;
	return 0;
}

/* Docker's /sys/fs/cgroup view (runc's "cgroup" mount): with a cgroup namespace of our own, each v1
 * hierarchy mounted from inside it shows the container's group as its root, so
 * /sys/fs/cgroup/memory/memory.limit_in_bytes is the container's limit. A tmpfs holds them;
 * co-mounted controllers get runc's symlinks (cpu -> cpu,cpuacct). Pure v2: cgroup2 itself.
 * Read-only unless privileged. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
static int cgroup_mounts_setup(const struct container_config *c)
{
	char base[PATH_MAX], target[PATH_MAX];
	unsigned long ro = c->privileged ? 0 : MS_RDONLY;
	unsigned long flags = MS_NOSUID | MS_NOEXEC | MS_NODEV;
	if (secure_join(c->root_path, "/sys/fs/cgroup", base, sizeof base) < 0)
		return -1;
	struct stat st;
	if (sys->stat(base, &st) < 0)
		return 0; /* no cgroup dir in this sysfs: nothing to show */
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return 0;
	char line[1024];
	int v1 = 0, v2 = 0;
	char names[32][256];
	int n = 0;
	while (fgets(line, sizeof line, f) && n < 32) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		if (!a || !b)
			continue;
		*b = 0;
		if (b == a + 1) {
			v2 = 1;
			continue;
		}
		/* the executor's empty favordynmods hierarchy is a host knob, not a view for containers */
		if (strcmp(a + 1, "name=berth_dynmods") == 0)
			continue;
		snprintf(names[n++], sizeof names[0], "%s", a + 1);
		v1 = 1;
	}
	fclose(f);
	if (!v1) {
		if (!v2)
			return 0;
		return do_mount("mount", "cgroup", base, "cgroup2", flags | ro, 0, NULL);
	}
	if (do_mount("mount", "tmpfs", base, "tmpfs", flags, 0, "mode=755") < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const char *opts = names[i];
		const char *dir = strncmp(opts, "name=", 5) == 0 ? opts + 5 : opts;
		char data[300];
		if (strncmp(opts, "name=", 5) == 0)
			snprintf(data, sizeof data, "none,%s", opts);
		else
			snprintf(data, sizeof data, "%s", opts);
		snprintf(target, sizeof target, "%s/%s", base, dir);
		if (sys->mkdir(target, 0755) < 0 && errno != EEXIST)
			return fail("mount", "mkdir", target, errno);
		if (do_mount("mount", "cgroup", target, "cgroup", flags | ro, 0, data) < 0)
			return -1;
		if (strchr(dir, ',')) {
			char copy[256];
			snprintf(copy, sizeof copy, "%s", dir);
			for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				snprintf(target, sizeof target, "%s/%s", base, tok);
				if (sys->symlink(dir, target) < 0 && errno != EEXIST)
					return fail("mount", "symlink", target, errno);
			}
		}
	}
	if (ro && sys->mount(NULL, base, NULL, MS_REMOUNT | MS_RDONLY | flags, "mode=755") < 0)
		return fail("mount", "mount", "remount /sys/fs/cgroup read-only", errno);
	return 0;
}
#pragma GCC diagnostic pop

/* A user mount under /sys/fs/cgroup must land on the cgroup view: then it goes in its place among
 * the default mounts; otherwise last, before pivot_root, once the join has happened. */
static int cgroup_view_early(const struct container_config *c)
{
	for (int i = 0; i < c->nmounts; i++)
		if (strncmp(c->mounts[i].destination, "/sys/fs/cgroup", 14) == 0)
			return 1;
	return 0;
}

int cgroup_view_setup(const struct container_config *c, int late)
{
	if (!c->default_mounts || late == cgroup_view_early(c))
		return 0;
	if (!container_own_cgroupns(c) || has_user_mount(c, "/sys") || has_user_mount(c, "/sys/fs/cgroup"))
		return 0;
	if (container_wait_joined(c) < 0)
		return -1;
	return cgroup_mounts_setup(c);
}

int mounts_setup(const struct container_config *c)
{
	char target[PATH_MAX];
	if (c->default_mounts) {
		for (size_t i = 0; i < sizeof default_mounts / sizeof default_mounts[0]; i++) {
			const struct default_mount *m = &default_mounts[i];
			if (has_user_mount(c, m->dest))
				continue;
			/* /sys needs a netns of our own; with the host's network it is bound read-only instead */
			if (secure_join(c->root_path, m->dest, target, sizeof target) < 0 || make_target(target, 0) < 0)
				return -1;
			unsigned long flags = m->flags;
			if (strcmp(m->dest, "/sys") == 0 && c->privileged)
				flags &= ~MS_RDONLY;
			if (do_mount("mount", m->src, target, m->type, flags, 0, m->data) < 0)
				return -1;
		}
		if (cgroup_view_setup(c, 0) < 0)
			return -1;
	}
	for (int i = 0; i < c->nmounts; i++) {
		const struct mount_entry *m = &c->mounts[i];
		unsigned long flags, pflags;
		char data[4096];
		mount_options(m->options, m->noptions, &flags, &pflags, data, sizeof data);
		int is_bind = (flags & MS_BIND) || (m->type && strcmp(m->type, "bind") == 0);
		if (is_bind)
			flags |= MS_BIND;
		int is_file = 0;
		if (is_bind && m->source) {
			struct stat st;
			if (sys->stat(m->source, &st) < 0)
				return fail("mount", "stat", m->source, errno);
			is_file = !S_ISDIR(st.st_mode);
		}
		if (secure_join(c->root_path, m->destination, target, sizeof target) < 0 ||
		    make_target(target, is_file) < 0)
			return -1;
		if (do_mount("mount", m->source, target, is_bind ? NULL : m->type, flags, pflags, data) < 0)
			return -1;
	}
	return 0;
}

static const struct { const char *name; unsigned maj, min; } dev_nodes[] = {
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};
static const struct { const char *target, *name; } dev_links[] = {
	{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},
};

int devices_setup(const struct container_config *c)
{
	char path[PATH_MAX], host[64];
	if (!c->default_mounts)
		return 0;
	for (size_t i = 0; i < sizeof dev_nodes / sizeof dev_nodes[0]; i++) {
		snprintf(path, sizeof path, "%s/dev/%s", c->root_path, dev_nodes[i].name);
		if (sys->mknod(path, S_IFCHR | 0666, makedev(dev_nodes[i].maj, dev_nodes[i].min)) == 0)
			continue;
		if (errno != EPERM)
			return fail("devices", "mknod", path, errno);
		/* no CAP_MKNOD here (user namespace): bind the host's node instead */
		snprintf(host, sizeof host, "/dev/%s", dev_nodes[i].name);
		if (make_target(path, 1) < 0 || do_mount("devices", host, path, NULL, MS_BIND, 0, NULL) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof dev_links / sizeof dev_links[0]; i++) {
		snprintf(path, sizeof path, "%s/dev/%s", c->root_path, dev_links[i].name);
		if (sys->symlink(dev_links[i].target, path) < 0 && errno != EEXIST)
			return fail("devices", "symlink", path, errno);
	}
	if (c->process.terminal) {
		/* the pty slave the shim gave us becomes /dev/console */
		char tty[PATH_MAX];
		ssize_t n = readlink("/proc/self/fd/0", tty, sizeof tty - 1);
		if (n > 0) {
			tty[n] = 0;
			snprintf(path, sizeof path, "%s/dev/console", c->root_path);
			if (strncmp(tty, "/dev/pts/", 9) == 0 &&
			    (make_target(path, 1) < 0 || do_mount("devices", tty, path, NULL, MS_BIND, 0, NULL) < 0))
				return -1;
		}
	}
	return 0;
}

int masked_paths_apply(const struct container_config *c)
{
	for (int i = 0; i < c->nmasked; i++) {
		struct stat st;
		const char *p = c->masked[i];
		if (sys->stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			return fail("masked_paths", "stat", p, errno);
		}
		int rc = S_ISDIR(st.st_mode)
			? sys->mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL)
			: sys->mount("/dev/null", p, NULL, MS_BIND, NULL);
		if (rc < 0)
			return fail("masked_paths", "mount", p, errno);
	}
	return 0;
}

int readonly_paths_apply(const struct container_config *c)
{
	for (int i = 0; i < c->nreadonly; i++) {
		struct stat st;
		const char *p = c->readonly_paths[i];
		if (sys->stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			return fail("readonly_paths", "stat", p, errno);
		}
		if (sys->mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    sys->mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			return fail("readonly_paths", "mount", p, errno);
	}
	return 0;
}

int rootfs_finish(const struct container_config *c)
{
	if (c->readonly && sys->mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return fail("rootfs", "mount", "read-only /", errno);
	return 0;
}
