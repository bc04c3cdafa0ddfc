/* The setup sequence. Order matters and is the point of this file:
 *   mounts need the new mount ns; pivot_root needs the rootfs mounted;
 *   masked/readonly paths are applied from inside the new root; the user is
 *   resolved from the container's /etc files (after pivot) but applied after
 *   the bounding set is dropped (CAP_SETPCAP still held); seccomp goes last
 *   when no_new_privs allows it, else before the caps are dropped. */
#define _GNU_SOURCE
#include "container.h"

#include "cgroup.h"
#include "error.h"
#include "mount.h"
#include "sys_ops.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* seccomp compiled, the cgroup created with its limits (not joined) */
static int parent_prepare(const struct container_config *c)
{
	if (c->seccomp && seccomp_prepare(c->seccomp) < 0)
		return -1;
	if (!c->cgroups_path)
		return 0;
	struct cg_warnings w = {0};
	struct resources r = c->resources;
	return cgroup_create(c->cgroups_path, &r, &w);
}

int container_parent_setup(const struct container_config *c)
{
	if (parent_prepare(c) < 0)
		return -1;
	/* join before unshare(CLONE_NEWCGROUP): the ns root is our group at that moment */
	if (c->cgroups_path && cgroup_attach(c->cgroups_path, getpid()) < 0)
		return -1;
	return namespaces_enter(c);
}

int container_joined_fd = -1;

int container_own_cgroupns(const struct container_config *c)
{
	for (int i = 0; i < c->nnamespaces; i++)
		if (c->namespaces[i].flag == CLONE_NEWCGROUP && !c->namespaces[i].path)
			return 1;
	return 0;
}

int container_parent_setup_deferred(const struct container_config *c)
{
	if (c->seccomp && seccomp_prepare(c->seccomp) < 0)
		return -1;
	return namespaces_enter_except(c, c->cgroups_path ? CLONE_NEWCGROUP : 0);
}

/* After the fork, while the child mounts: the group is made (v1: one per hierarchy, plus the device
 * rules) and the child joins it; the child waits for "joined" before pivot_root, which would take
 * the host's /sys away from us (we share its mount namespace). */
int container_join_child(const struct container_config *c, pid_t child, int joined_fd)
{
	if (c->cgroups_path) {
		struct cg_warnings w = {0};
		struct resources r = c->resources;
		if (cgroup_create(c->cgroups_path, &r, &w) < 0 || cgroup_attach(c->cgroups_path, child) < 0)
			return -1;
	}
	if (joined_fd >= 0 && write(joined_fd, "j", 1) != 1)
		return fail("cgroup", "write", "joined pipe", errno);
	return 0;
}

int container_wait_joined(const struct container_config *c)
{
	if (container_joined_fd < 0)
		return 0;
	char b;
	ssize_t n;
	do
		n = read(container_joined_fd, &b, 1);
	while (n < 0 && errno == EINTR);
	close(container_joined_fd);
	container_joined_fd = -1;
	if (n != 1)
		return fail("cgroup", "read", "joined pipe", n < 0 ? errno : EPIPE);
	/* the cgroup namespace's root is our group at this moment: now it is the container's */
	if (c->cgroups_path && container_own_cgroupns(c) && sys->unshare(CLONE_NEWCGROUP) < 0)
		return fail("namespaces", "unshare", "cgroup", errno);
	return 0;
}

static int mkdir_all(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (sys->mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return fail("cwd", "mkdir", tmp, errno);
		*p = '/';
	}
	if (sys->mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return fail("cwd", "mkdir", tmp, errno);
	return 0;
}

static int security_setup(const struct container_config *c, struct resolved_user *u)
{
	const struct process_config *p = &c->process;
	if (rlimits_apply(p) < 0 || oom_score_adj_apply(p) < 0)
		return -1;
	if (user_resolve(p, u) < 0)
		return -1;
	if (c->seccomp && !p->no_new_privileges && seccomp_apply() < 0)
		return -1;
	if (caps_drop_bounding(p) < 0 || user_apply(u) < 0 || caps_apply(p) < 0)
		return -1;
	if (p->no_new_privileges && sys->prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail("no_new_privs", "prctl(PR_SET_NO_NEW_PRIVS)", "process", errno);
	if (c->seccomp && p->no_new_privileges && seccomp_apply() < 0)
		return -1;
	if (sys->chdir(p->cwd) < 0)
		return fail("cwd", "chdir", p->cwd, errno);
	return 0;
}

int container_child_setup(const struct container_config *c, struct resolved_user *u)
{
	if (rootfs_prepare(c) < 0 || mounts_setup(c) < 0 || devices_setup(c) < 0)
		return -1;
	/* the join ran in P while we mounted; the cgroup view goes last (mounts_setup left it out) */
	if (container_wait_joined(c) < 0 || cgroup_view_setup(c, 1) < 0)
		return -1;
	if (pivot_to(c->root_path) < 0)
		return -1;
	if (masked_paths_apply(c) < 0 || readonly_paths_apply(c) < 0)
		return -1;
	/* Docker creates a missing working directory; do it before / turns read-only */
	if (mkdir_all(c->process.cwd) < 0)
		return -1;
	if (rootfs_finish(c) < 0)
		return -1;
	if (c->hostname && *c->hostname && sys->sethostname(c->hostname, strlen(c->hostname)) < 0)
		return fail("hostname", "sethostname", c->hostname, errno);
	if (c->domainname && *c->domainname && sys->setdomainname(c->domainname, strlen(c->domainname)) < 0)
		return fail("hostname", "setdomainname", c->domainname, errno);
	return security_setup(c, u);
}

int exec_child_setup(const struct container_config *c, struct resolved_user *u)
{
	return security_setup(c, u);
}

const char *const *container_env(const struct process_config *p, const struct resolved_user *u)
{
	static const char *env[MAX_LIST + 2];
	static char home[300];
	int n = 0, has_home = 0;
	for (int i = 0; i < p->nenv; i++) {
		if (strncmp(p->env[i], "HOME=", 5) == 0)
			has_home = 1;
		env[n++] = p->env[i];
	}
	if (!has_home) {
		snprintf(home, sizeof home, "HOME=%s", u->home[0] ? u->home : "/");
		env[n++] = home;
	}
	env[n] = NULL;
	return env;
}
