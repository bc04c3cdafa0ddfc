/* Seccomp: compile a Docker-style profile (profiles/seccomp-default.json,
 * Berth's own shape of the moby default's facts) for one capability set to
 * raw BPF once; the init only reads that file and loads it.
 *
 * Profile shape: {defaultErrno, arches:{amd64:[native, sub...]}, rules:[{names[],
 * action:"allow"|"errno", errno?, args?[{index,value,valueTwo,op}], ifCaps?[] (all
 * required), unlessCaps?[] (any excludes), ifArches?[], unlessArches?[], minKernel?}]} */
#define _GNU_SOURCE
#include "config.h"
#include "error.h"
#include "runtime.h"
#include "sys_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static char buf[256 * 1024];
static struct sock_fprog prepared;
static char prepared_path[512];

/* read before pivot_root: the BPF file lives on the host */
int seccomp_prepare(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("seccomp", "open", path, errno);
	size_t off = 0;
	for (;;) {
		ssize_t n = read(fd, buf + off, sizeof buf - off);
		if (n < 0) {
			int e = errno;
			close(fd);
			return fail("seccomp", "read", path, e);
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off == sizeof buf) {
			close(fd);
			return fail("seccomp", "read", path, EFBIG);
		}
	}
	close(fd);
	if (off == 0 || off % sizeof(struct sock_filter))
		return fail("seccomp", "read", path, EINVAL);
	prepared.len = (unsigned short)(off / sizeof(struct sock_filter));
	prepared.filter = (struct sock_filter *)buf;
	snprintf(prepared_path, sizeof prepared_path, "%s", path);
	return 0;
}

int seccomp_apply(void)
{
	if (!prepared.filter)
		return fail("seccomp", "seccomp(SECCOMP_SET_MODE_FILTER)", "filter", EINVAL);
	if (sys->seccomp_load(&prepared) < 0)
		return fail("seccomp", "seccomp(SECCOMP_SET_MODE_FILTER)", prepared_path, errno);
	return 0;
}

static const char *native_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#else
	return "unknown";
#endif
}

static int in_list(struct json_object *arr, const char *s)
{
	if (!arr)
		return 0;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s) == 0)
			return 1;
	return 0;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static int kernel_at_least(const char *ver)
{
	struct utsname u;
	if (uname(&u) < 0)
		return 1;
	int a = 0, b = 0, x = 0, y = 0;
	sscanf(u.release, "%d.%d", &a, &b);
	sscanf(ver, "%d.%d", &x, &y);
	return a > x || (a == x && b >= y);
}

static enum scmp_compare cmp_op(const char *op)
{
	if (!strcmp(op, "ne")) return SCMP_CMP_NE;
	if (!strcmp(op, "lt")) return SCMP_CMP_LT;
	if (!strcmp(op, "le")) return SCMP_CMP_LE;
	if (!strcmp(op, "eq")) return SCMP_CMP_EQ;
	if (!strcmp(op, "ge")) return SCMP_CMP_GE;
	if (!strcmp(op, "gt")) return SCMP_CMP_GT;
	if (!strcmp(op, "masked_eq")) return SCMP_CMP_MASKED_EQ;
	return _SCMP_CMP_MIN;
}

int seccomp_compile(const char *profile, uint64_t caps, const char *out)
{
	struct json_object *p = json_object_from_file(profile);
	if (!p)
		return fail("seccomp", "open", profile, errno ? errno : EINVAL);
	int rc = -1;
	int def_errno = get(p, "defaultErrno") ? json_object_get_int(get(p, "defaultErrno")) : 1;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO((uint32_t)def_errno));
	if (!ctx) {
		fail("seccomp", "seccomp_init", profile, ENOMEM);
		goto out;
	}
	const char *arch = native_arch();
	struct json_object *arches = get(get(p, "arches") ? get(p, "arches") : p, arch);
	for (size_t i = 1; arches && i < json_object_array_length(arches); i++) {
		const char *sub = json_object_get_string(json_object_array_get_idx(arches, i));
		uint32_t token = seccomp_arch_resolve_name(sub);
		int r = token ? seccomp_arch_add(ctx, token) : -EINVAL;
		if (r < 0 && r != -EEXIST) {
			fail("seccomp", "seccomp_arch_add", sub, -r);
			goto out;
		}
	}
	struct json_object *rules = get(p, "rules");
	size_t nrules = rules ? json_object_array_length(rules) : 0;
	for (size_t i = 0; i < nrules; i++) {
		struct json_object *r = json_object_array_get_idx(rules, i);
		struct json_object *ifcaps = get(r, "ifCaps"), *unless = get(r, "unlessCaps");
		int skip = 0;
		for (size_t k = 0; ifcaps && k < json_object_array_length(ifcaps); k++) {
			int c = cap_from_name(json_object_get_string(json_object_array_get_idx(ifcaps, k)));
			if (c < 0 || !(caps & (1ULL << c)))
				skip = 1;
		}
		for (size_t k = 0; unless && k < json_object_array_length(unless); k++) {
			int c = cap_from_name(json_object_get_string(json_object_array_get_idx(unless, k)));
			if (c >= 0 && (caps & (1ULL << c)))
				skip = 1;
		}
		if (get(r, "ifArches") && !in_list(get(r, "ifArches"), arch))
			skip = 1;
		if (get(r, "unlessArches") && in_list(get(r, "unlessArches"), arch))
			skip = 1;
		if (get(r, "minKernel") && !kernel_at_least(json_object_get_string(get(r, "minKernel"))))
			skip = 1;
		if (skip)
			continue;
		const char *action = json_object_get_string(get(r, "action"));
		uint32_t act = SCMP_ACT_ALLOW;
		if (action && strcmp(action, "errno") == 0)
			act = SCMP_ACT_ERRNO((uint32_t)(get(r, "errno") ? json_object_get_int(get(r, "errno")) : def_errno));
		struct scmp_arg_cmp cmps[6];
		unsigned ncmp = 0;
		struct json_object *args = get(r, "args");
		for (size_t k = 0; args && k < json_object_array_length(args) && ncmp < 6; k++) {
			struct json_object *a = json_object_array_get_idx(args, k);
			enum scmp_compare op = cmp_op(json_object_get_string(get(a, "op")));
			if (op == _SCMP_CMP_MIN) {
				fail("seccomp", "parse", json_object_get_string(get(a, "op")), EINVAL);
				goto out;
			}
			cmps[ncmp].arg = (unsigned)json_object_get_int(get(a, "index"));
			cmps[ncmp].op = op;
			/* masked_eq: value is the mask, valueTwo the expected value (as libseccomp wants) */
			cmps[ncmp].datum_a = (scmp_datum_t)json_object_get_uint64(get(a, "value"));
			cmps[ncmp].datum_b = get(a, "valueTwo") ? (scmp_datum_t)json_object_get_uint64(get(a, "valueTwo")) : 0;
			ncmp++;
		}
		struct json_object *names = get(r, "names");
		for (size_t k = 0; names && k < json_object_array_length(names); k++) {
			const char *name = json_object_get_string(json_object_array_get_idx(names, k));
			int nr = seccomp_syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR)
				continue; /* not a syscall on this architecture */
			int e = seccomp_rule_add_array(ctx, act, nr, ncmp, cmps);
			if (e < 0 && e != -EEXIST && e != -EACCES) {
				failf("seccomp", "seccomp_rule_add", name, -e, "seccomp: rule for %s: %s", name, strerror(-e));
				goto out;
			}
		}
	}
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", out, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fail("seccomp", "open", tmp, errno);
		goto out;
	}
	int e = seccomp_export_bpf(ctx, fd);
	close(fd);
	if (e < 0) {
		unlink(tmp);
		fail("seccomp", "seccomp_export_bpf", out, -e);
		goto out;
	}
	if (rename(tmp, out) < 0) {
		unlink(tmp);
		fail("seccomp", "rename", out, errno);
		goto out;
	}
	rc = 0;
out:
	if (ctx)
		seccomp_release(ctx);
	json_object_put(p);
	return rc;
}
