/* config.json (see PROTOCOL.md) parsed into plain C. Strings point into the
 * json-c tree, which lives until config_free. */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_LIST 256

struct json_object;

struct mount_entry {
	const char *destination, *type, *source;
	const char *options[32];
	int noptions;
};

struct rlimit_entry {
	int resource;
	uint64_t soft, hard;
};

struct ns_entry {
	int flag;          /* CLONE_NEW* */
	const char *path;  /* join instead of create */
};

struct resources {
	bool has_memory;
	int64_t mem_limit, mem_reservation, mem_swap; /* 0 = unset, -1 = unlimited */
	bool disable_oom_killer;
	uint64_t cpu_shares;
	int64_t cpu_quota;
	uint64_t cpu_period;
	const char *cpus, *mems;
	int64_t pids_limit; /* 0 = unset, -1 = max */
	uint16_t blkio_weight;
	bool devices_allow_all;
	bool set_devices; /* apply the device list (create only) */
};

struct process_config {
	const char *args[MAX_LIST];
	int nargs;
	const char *env[MAX_LIST];
	int nenv;
	const char *cwd;
	bool terminal;
	bool has_uid;
	uid_t uid;
	gid_t gid;
	gid_t additional_gids[64];
	int nadditional;
	const char *username; /* "name[:group]" resolved in the container */
	/* capability sets as bitmasks; has_caps false => leave as is */
	bool has_caps;
	uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
	struct rlimit_entry rlimits[32];
	int nrlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
};

struct container_config {
	struct json_object *root_json;
	struct process_config process;
	const char *root_path;
	bool readonly;
	const char *lowerdirs[MAX_LIST];
	int nlowerdirs;
	const char *upperdir, *workdir;
	const char *hostname, *domainname;
	struct mount_entry mounts[MAX_LIST];
	int nmounts;
	bool default_mounts;
	bool privileged;
	bool init;
	struct ns_entry namespaces[8];
	int nnamespaces;
	const char *masked[MAX_LIST];
	int nmasked;
	const char *readonly_paths[MAX_LIST];
	int nreadonly;
	const char *cgroups_path;
	struct resources resources;
	const char *seccomp; /* BPF file or NULL */
};

int config_load(const char *path, struct container_config *c);
/* exec.json: {process, seccomp, privileged} */
int exec_config_load(const char *path, struct container_config *c);
int resources_parse(struct json_object *o, struct resources *r);
int resources_load(const char *path, struct resources *r);
int process_parse(struct json_object *o, struct process_config *p);
void config_free(struct container_config *c);

int cap_from_name(const char *name); /* -1 if unknown */
const char *cap_name(int cap);
int rlimit_from_name(const char *name);

#endif
