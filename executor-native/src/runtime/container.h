#ifndef BERTH_CONTAINER_H
#define BERTH_CONTAINER_H

#include "config.h"
#include "runtime.h"

/* P (host pid namespace): cgroup create + join self, then namespaces. */
int container_parent_setup(const struct container_config *c);
/* P, when the cgroup work is left to container_join_child: the namespaces except the cgroup
 * namespace (the child unshares that once it is in its group). */
int container_parent_setup_deferred(const struct container_config *c);
/* P after fork, while C mounts: creates the cgroups and moves C into them (the slow steps: v1 has a
 * group per hierarchy, and the move waits for an RCU grace period without favordynmods), then tells
 * C through `joined_fd`. C sets container_joined_fd to the other end. */
int container_join_child(const struct container_config *c, pid_t child, int joined_fd);
extern int container_joined_fd;
/* the config asks for a cgroup namespace of its own (not one to join) */
int container_own_cgroupns(const struct container_config *c);
/* C: waits until P has moved it into its cgroups (once; no-op when nothing is deferred), then
 * unshares its own cgroup namespace when the config asks for one. */
int container_wait_joined(const struct container_config *c);
/* C (PID 1): mounts, pivot_root, ..., cwd. Stops before waiting for go. */
int container_child_setup(const struct container_config *c, struct resolved_user *u);
/* exec: the child side after setns + fork */
int exec_child_setup(const struct container_config *c, struct resolved_user *u);
/* env for execve: process.env plus HOME when missing; returns a static NULL-terminated array */
const char *const *container_env(const struct process_config *p, const struct resolved_user *u);

#endif
