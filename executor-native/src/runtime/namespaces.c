#define _GNU_SOURCE
#include "error.h"
#include "runtime.h"
#include "sys_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh network namespace has `lo` down; Docker's containers (--network none too) have it up.
 * Done here, before exec, instead of an nsenter + ip spawn on the host. Best effort: the host's
 * attach-netns still checks, and brings it up itself when this did not. */
static void loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		(void)ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

/* Join/create order matters: user first (it owns the others), mount last so
 * /proc/<pid>/ns paths still resolve on the host while joining. */
static const struct { int flag; const char *name; } ns_table[] = {
	{CLONE_NEWUSER, "user"}, {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWIPC, "ipc"}, {CLONE_NEWUTS, "uts"},
	{CLONE_NEWNET, "net"},   {CLONE_NEWPID, "pid"},       {CLONE_NEWNS, "mnt"},
};
#define NNS (sizeof ns_table / sizeof ns_table[0])

int namespaces_flags(const struct container_config *c)
{
	int flags = 0;
	for (int i = 0; i < c->nnamespaces; i++)
		if (!c->namespaces[i].path)
			flags |= c->namespaces[i].flag;
	return flags;
}

int namespaces_enter(const struct container_config *c)
{
	return namespaces_enter_except(c, 0);
}

int namespaces_enter_except(const struct container_config *c, int except)
{
	for (size_t t = 0; t < NNS; t++) {
		for (int i = 0; i < c->nnamespaces; i++) {
			const struct ns_entry *n = &c->namespaces[i];
			if (n->flag != ns_table[t].flag || !n->path)
				continue;
			int fd = sys->open(n->path, O_RDONLY | O_CLOEXEC, 0);
			if (fd < 0)
				return fail("namespaces", "open", n->path, errno);
			if (sys->setns(fd, n->flag) < 0) {
				int e = errno;
				sys->close(fd);
				return fail("namespaces", "setns", n->path, e);
			}
			sys->close(fd);
		}
	}
	int flags = namespaces_flags(c) & ~except;
	if (flags && sys->unshare(flags) < 0) {
		char obj[64];
		snprintf(obj, sizeof obj, "flags 0x%x", flags);
		return fail("namespaces", "unshare", obj, errno);
	}
	if ((flags & CLONE_NEWNET) && sys == &sys_real)
		loopback_up();
	return 0;
}

int namespaces_join(pid_t pid)
{
	int fds[NNS];
	char path[64];
	/* open all first: after setns(mnt) /proc is the container's */
	for (size_t t = 0; t < NNS; t++) {
		fds[t] = -1;
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns_table[t].name);
		char self[64];
		snprintf(self, sizeof self, "/proc/self/ns/%s", ns_table[t].name);
		struct stat a, b;
		/* same namespace as ours (e.g. host network): nothing to join; setns(user) would fail */
		if (stat(path, &a) == 0 && stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue;
		fds[t] = sys->open(path, O_RDONLY | O_CLOEXEC, 0);
		if (fds[t] < 0) {
			int e = errno;
			for (size_t k = 0; k < t; k++)
				if (fds[k] >= 0)
					sys->close(fds[k]);
			return fail("setns", "open", path, e);
		}
	}
	int rc = 0;
	for (size_t t = 0; t < NNS; t++) {
		if (fds[t] < 0)
			continue;
		if (rc == 0 && sys->setns(fds[t], ns_table[t].flag) < 0) {
			snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns_table[t].name);
			rc = fail("setns", "setns", path, errno);
		}
		sys->close(fds[t]);
	}
	return rc;
}
