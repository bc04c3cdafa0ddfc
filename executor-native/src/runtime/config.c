#define _GNU_SOURCE
#include "config.h"

#include "error.h"

#include <errno.h>
#include <json-c/json.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>

static const char *cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
#define NCAPS ((int)(sizeof cap_names / sizeof cap_names[0]))

int cap_from_name(const char *name)
{
	const char *n = name;
	for (int i = 0; i < NCAPS; i++) {
		if (strcasecmp(cap_names[i], n) == 0 || strcasecmp(cap_names[i] + 4, n) == 0)
			return i;
	}
	return -1;
}

const char *cap_name(int cap) { return cap >= 0 && cap < NCAPS ? cap_names[cap] : NULL; }

static const struct { const char *name; int res; } rlimits[] = {
	{"RLIMIT_CPU", RLIMIT_CPU}, {"RLIMIT_FSIZE", RLIMIT_FSIZE}, {"RLIMIT_DATA", RLIMIT_DATA},
	{"RLIMIT_STACK", RLIMIT_STACK}, {"RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_RSS", RLIMIT_RSS},
	{"RLIMIT_NPROC", RLIMIT_NPROC}, {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
	{"RLIMIT_AS", RLIMIT_AS}, {"RLIMIT_LOCKS", RLIMIT_LOCKS}, {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
	{"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE}, {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
	{"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

int rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof rlimits / sizeof rlimits[0]; i++)
		if (strcasecmp(rlimits[i].name, name) == 0 || strcasecmp(rlimits[i].name + 7, name) == 0)
			return rlimits[i].res;
	return -1;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool get_bool(struct json_object *o, const char *key, bool dflt)
{
	struct json_object *v = get(o, key);
	return v ? json_object_get_boolean(v) : dflt;
}

static int str_list(struct json_object *o, const char *key, const char **out, int max, int *n)
{
	struct json_object *a = get(o, key);
	*n = 0;
	if (!a)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return failf("config", "parse", key, EINVAL, "config: `%s` must be an array of strings", key);
	size_t len = json_object_array_length(a);
	if (len > (size_t)max)
		return failf("config", "parse", key, E2BIG, "config: `%s` has too many entries", key);
	for (size_t i = 0; i < len; i++) {
		struct json_object *s = json_object_array_get_idx(a, i);
		if (!json_object_is_type(s, json_type_string))
			return failf("config", "parse", key, EINVAL, "config: `%s` must be an array of strings", key);
		out[(*n)++] = json_object_get_string(s);
	}
	return 0;
}

static int cap_list(struct json_object *caps, const char *key, uint64_t *mask)
{
	const char *names[64];
	int n;
	*mask = 0;
	if (str_list(caps, key, names, 64, &n) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		int c = cap_from_name(names[i]);
		if (c < 0)
			return failf("config", "parse", names[i], EINVAL, "unknown capability %s", names[i]);
		*mask |= 1ULL << c;
	}
	return 0;
}

int process_parse(struct json_object *p, struct process_config *out)
{
	memset(out, 0, sizeof *out);
	if (!p)
		return failf("config", "parse", "process", EINVAL, "config: `process` is required");
	if (str_list(p, "args", out->args, MAX_LIST - 1, &out->nargs) < 0)
		return -1;
	if (out->nargs == 0)
		return failf("config", "parse", "process.args", EINVAL, "no command specified");
	if (str_list(p, "env", out->env, MAX_LIST - 2, &out->nenv) < 0)
		return -1;
	out->cwd = get_str(p, "cwd");
	if (!out->cwd || !*out->cwd)
		out->cwd = "/";
	out->terminal = get_bool(p, "terminal", false);
	out->no_new_privileges = get_bool(p, "noNewPrivileges", false);
	struct json_object *v = get(p, "oomScoreAdj");
	if (v) {
		out->has_oom_score_adj = true;
		out->oom_score_adj = json_object_get_int(v);
	}
	struct json_object *u = get(p, "user");
	if (u) {
		out->username = get_str(u, "username");
		if (!out->username && get(u, "uid")) {
			out->has_uid = true;
			out->uid = (uid_t)json_object_get_int64(get(u, "uid"));
			out->gid = get(u, "gid") ? (gid_t)json_object_get_int64(get(u, "gid")) : 0;
			struct json_object *a = get(u, "additionalGids");
			if (a && json_object_is_type(a, json_type_array)) {
				size_t len = json_object_array_length(a);
				for (size_t i = 0; i < len && i < 64; i++)
					out->additional_gids[out->nadditional++] =
						(gid_t)json_object_get_int64(json_object_array_get_idx(a, i));
			}
		}
	}
	struct json_object *caps = get(p, "capabilities");
	if (caps) {
		out->has_caps = true;
		if (cap_list(caps, "bounding", &out->cap_bounding) < 0 ||
		    cap_list(caps, "effective", &out->cap_effective) < 0 ||
		    cap_list(caps, "permitted", &out->cap_permitted) < 0 ||
		    cap_list(caps, "inheritable", &out->cap_inheritable) < 0 ||
		    cap_list(caps, "ambient", &out->cap_ambient) < 0)
			return -1;
	}
	struct json_object *rl = get(p, "rlimits");
	if (rl && json_object_is_type(rl, json_type_array)) {
		size_t len = json_object_array_length(rl);
		for (size_t i = 0; i < len && i < 32; i++) {
			struct json_object *e = json_object_array_get_idx(rl, i);
			const char *type = get_str(e, "type");
			int res = type ? rlimit_from_name(type) : -1;
			if (res < 0)
				return failf("config", "parse", type ? type : "?", EINVAL, "unknown rlimit %s", type ? type : "?");
			out->rlimits[out->nrlimits].resource = res;
			out->rlimits[out->nrlimits].soft = (uint64_t)json_object_get_int64(get(e, "soft"));
			out->rlimits[out->nrlimits].hard = (uint64_t)json_object_get_int64(get(e, "hard"));
			/* json-c clamps to INT64; -1 / huge means infinity */
			if ((int64_t)out->rlimits[out->nrlimits].soft < 0)
				out->rlimits[out->nrlimits].soft = RLIM_INFINITY;
			if ((int64_t)out->rlimits[out->nrlimits].hard < 0)
				out->rlimits[out->nrlimits].hard = RLIM_INFINITY;
			out->nrlimits++;
		}
	}
	return 0;
}

static int64_t get_i64(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);
	return v ? json_object_get_int64(v) : 0;
}

int resources_parse(struct json_object *o, struct resources *r)
{
	memset(r, 0, sizeof *r);
	if (!o)
		return 0;
	struct json_object *m = get(o, "memory");
	if (m) {
		r->has_memory = true;
		r->mem_limit = get_i64(m, "limit");
		r->mem_reservation = get_i64(m, "reservation");
		r->mem_swap = get_i64(m, "swap");
		r->disable_oom_killer = get_bool(m, "disableOOMKiller", false);
	}
	struct json_object *c = get(o, "cpu");
	if (c) {
		r->cpu_shares = (uint64_t)get_i64(c, "shares");
		r->cpu_quota = get_i64(c, "quota");
		r->cpu_period = (uint64_t)get_i64(c, "period");
		r->cpus = get_str(c, "cpus");
		r->mems = get_str(c, "mems");
		if (r->cpus && !*r->cpus)
			r->cpus = NULL;
		if (r->mems && !*r->mems)
			r->mems = NULL;
	}
	struct json_object *p = get(o, "pids");
	if (p)
		r->pids_limit = get_i64(p, "limit");
	struct json_object *b = get(o, "blockIO");
	if (b)
		r->blkio_weight = (uint16_t)get_i64(b, "weight");
	r->devices_allow_all = get_bool(o, "devicesAllowAll", false);
	return 0;
}

static struct json_object *load_json(const char *path)
{
	struct json_object *o = json_object_from_file(path);
	if (!o)
		failf("config", "open", path, errno ? errno : EINVAL, "cannot read JSON `%s`: %s", path,
		      json_util_get_last_err() ? json_util_get_last_err() : "invalid");
	return o;
}

int resources_load(const char *path, struct resources *r)
{
	struct json_object *o = load_json(path);
	if (!o)
		return -1;
	int rc = resources_parse(o, r);
	/* strings (cpus/mems) must outlive: keep the tree; tiny leak in a short-lived CLI */
	return rc;
}

static const struct { const char *name; int flag; } ns_types[] = {
	{"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET}, {"net", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
	{"mnt", CLONE_NEWNS}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP},
	{"user", CLONE_NEWUSER},
};

int config_load(const char *path, struct container_config *c)
{
	memset(c, 0, sizeof *c);
	struct json_object *o = load_json(path);
	if (!o)
		return -1;
	c->root_json = o;
	if (process_parse(get(o, "process"), &c->process) < 0)
		return -1;
	struct json_object *root = get(o, "root");
	c->root_path = get_str(root, "path");
	if (!c->root_path)
		return failf("config", "parse", "root.path", EINVAL, "config: `root.path` is required");
	c->readonly = get_bool(root, "readonly", false);
	struct json_object *rfs = get(o, "rootfs");
	if (rfs) {
		if (str_list(rfs, "lowerdirs", c->lowerdirs, MAX_LIST, &c->nlowerdirs) < 0)
			return -1;
		c->upperdir = get_str(rfs, "upperdir");
		c->workdir = get_str(rfs, "workdir");
		if (c->nlowerdirs == 0)
			return failf("config", "parse", "rootfs.lowerdirs", EINVAL, "config: `rootfs.lowerdirs` is empty");
		if (!!c->upperdir != !!c->workdir)
			return failf("config", "parse", "rootfs", EINVAL, "config: upperdir and workdir go together");
	}
	c->hostname = get_str(o, "hostname");
	c->domainname = get_str(o, "domainname");
	c->default_mounts = get_bool(o, "defaultMounts", true);
	c->privileged = get_bool(o, "privileged", false);
	c->init = get_bool(o, "init", false);
	struct json_object *ms = get(o, "mounts");
	if (ms && json_object_is_type(ms, json_type_array)) {
		size_t len = json_object_array_length(ms);
		if (len > MAX_LIST)
			return failf("config", "parse", "mounts", E2BIG, "config: too many mounts");
		for (size_t i = 0; i < len; i++) {
			struct json_object *e = json_object_array_get_idx(ms, i);
			struct mount_entry *m = &c->mounts[c->nmounts++];
			m->destination = get_str(e, "destination");
			m->type = get_str(e, "type");
			m->source = get_str(e, "source");
			if (!m->destination || m->destination[0] != '/')
				return failf("config", "parse", "mounts", EINVAL, "config: mount destination must be absolute");
			if (str_list(e, "options", m->options, 32, &m->noptions) < 0)
				return -1;
		}
	}
	struct json_object *lx = get(o, "linux");
	struct json_object *nss = get(lx, "namespaces");
	if (nss && json_object_is_type(nss, json_type_array)) {
		size_t len = json_object_array_length(nss);
		for (size_t i = 0; i < len && c->nnamespaces < 8; i++) {
			struct json_object *e = json_object_array_get_idx(nss, i);
			const char *type = get_str(e, "type");
			int flag = 0;
			for (size_t k = 0; type && k < sizeof ns_types / sizeof ns_types[0]; k++)
				if (strcmp(ns_types[k].name, type) == 0)
					flag = ns_types[k].flag;
			if (!flag)
				return failf("config", "parse", type ? type : "?", EINVAL, "unknown namespace type %s",
					     type ? type : "?");
			if (flag == CLONE_NEWUSER)
				return failf("config", "parse", "user", EOPNOTSUPP, "user namespaces are not supported yet");
			c->namespaces[c->nnamespaces].flag = flag;
			c->namespaces[c->nnamespaces].path = get_str(e, "path");
			c->nnamespaces++;
		}
	}
	if (str_list(lx, "maskedPaths", c->masked, MAX_LIST, &c->nmasked) < 0 ||
	    str_list(lx, "readonlyPaths", c->readonly_paths, MAX_LIST, &c->nreadonly) < 0)
		return -1;
	c->cgroups_path = get_str(lx, "cgroupsPath");
	if (resources_parse(get(lx, "resources"), &c->resources) < 0)
		return -1;
	c->resources.set_devices = true;
	if (c->privileged)
		c->resources.devices_allow_all = true;
	c->seccomp = get_str(lx, "seccomp");
	return 0;
}

int exec_config_load(const char *path, struct container_config *c)
{
	memset(c, 0, sizeof *c);
	struct json_object *o = load_json(path);
	if (!o)
		return -1;
	c->root_json = o;
	if (process_parse(get(o, "process"), &c->process) < 0)
		return -1;
	c->seccomp = get_str(o, "seccomp");
	c->privileged = get_bool(o, "privileged", false);
	return 0;
}

void config_free(struct container_config *c)
{
	if (c->root_json)
		json_object_put(c->root_json);
	c->root_json = NULL;
}
