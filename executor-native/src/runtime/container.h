#ifndef BERTH_CONTAINER_H
#define BERTH_CONTAINER_H

#include "config.h"
#include "runtime.h"

/* P (host pid namespace): cgroup create + join self, then namespaces. */
int container_parent_setup(const struct container_config *c);
/* C (PID 1): mounts, pivot_root, ..., cwd. Stops before waiting for go. */
int container_child_setup(const struct container_config *c, struct resolved_user *u);
/* exec: the child side after setns + fork */
int exec_child_setup(const struct container_config *c, struct resolved_user *u);
/* env for execve: process.env plus HOME when missing; returns a static NULL-terminated array */
const char *const *container_env(const struct process_config *p, const struct resolved_user *u);

#endif
