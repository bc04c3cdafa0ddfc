/* The per-concern steps the init runs, in the order PROTOCOL.md draws. */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include "config.h"

#include <stdint.h>
#include <sys/types.h>

/* namespaces.c */
int namespaces_enter(const struct container_config *c);      /* setns(path) then one unshare */
/* the same, leaving the flags in `except` out of the unshare */
int namespaces_enter_except(const struct container_config *c, int except);
int namespaces_join(pid_t pid);                              /* exec: setns into every ns of pid */
int namespaces_flags(const struct container_config *c);      /* CLONE_NEW* that will be unshared */

/* user.c */
struct resolved_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int ngroups;
	char home[256];
};
int user_resolve(const struct process_config *p, struct resolved_user *u); /* reads /etc/passwd, /etc/group */
int user_apply(const struct resolved_user *u);

/* caps.c */
uint64_t caps_available(void);                               /* host bounding set */
int caps_drop_bounding(const struct process_config *p);
int caps_apply(const struct process_config *p);              /* after user_apply */

/* rlimit.c */
int rlimits_apply(const struct process_config *p);
int oom_score_adj_apply(const struct process_config *p);

/* seccomp.c */
int seccomp_prepare(const char *path);  /* read the BPF file (before pivot_root) */
int seccomp_apply(void);                 /* load what seccomp_prepare read */
int seccomp_compile(const char *profile, uint64_t caps, const char *out);

/* sync.c */
int sync_send(int fd, const char *json_line);
int sync_send_error(int fd);
int sync_send_pid(int fd, pid_t pid);
int sync_wait_go(int fd);                                    /* 0 on 'G', -1 otherwise */

/* exec.c (execution helpers shared by run and exec) */
/* PATH lookup in the current root; fills out or sets g_err with Docker's wording */
int lookup_path(const char *cmd, const char *const *env, char *out, size_t outlen);

#endif
