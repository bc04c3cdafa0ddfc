#ifndef BERTH_MOUNT_H
#define BERTH_MOUNT_H

#include "config.h"

#include <stddef.h>

/* Resolve `unsafe` (absolute, inside the container) under `root` without
 * letting symlinks or ".." escape it (like Go's securejoin). */
int secure_join(const char *root, const char *unsafe, char *out, size_t outlen);
/* parse "ro,nosuid,size=1m" style options into flags, propagation flags and data */
void mount_options(const char *const *opts, int n, unsigned long *flags, unsigned long *pflags, char *data,
		   size_t datalen);

/* Before pivot_root, in the container's mount namespace */
int rootfs_prepare(const struct container_config *c);   /* rslave /, overlay (or bind) on root.path */
/* /sys/fs/cgroup (own cgroup namespace): late=0 from mounts_setup, late=1 before pivot_root; one of them does it */
int cgroup_view_setup(const struct container_config *c, int late);
int mounts_setup(const struct container_config *c);     /* defaults + config mounts under root.path */
int devices_setup(const struct container_config *c);    /* nodes and symlinks in <root>/dev */
int pivot_to(const char *root);                         /* fd-based pivot_root(".", ".") */
/* After pivot_root */
int masked_paths_apply(const struct container_config *c);
int readonly_paths_apply(const struct container_config *c);
int rootfs_finish(const struct container_config *c);    /* read-only root remount */

#endif
