/* Docker's user semantics: "name|uid[:group|gid]" resolved from the
 * container's own /etc/passwd and /etc/group (after pivot_root). */
#define _GNU_SOURCE
#include "error.h"
#include "runtime.h"
#include "sys_ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

static char passwd_buf[65536], group_buf[65536];

static int is_number(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* iterate "a:b:c:..." lines; fields split in place into f[] */
static int split_fields(char *line, char **f, int max)
{
	int n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == ':') {
			*p = 0;
			f[n++] = p + 1;
		}
	return n;
}

static int find_group(const char *name_or_id, gid_t *gid, int *found)
{
	*found = 0;
	char copy[sizeof group_buf];
	memcpy(copy, group_buf, sizeof copy);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4];
		if (split_fields(line, f, 4) < 3)
			continue;
		if (strcmp(f[0], name_or_id) == 0 || (is_number(name_or_id) && strcmp(f[2], name_or_id) == 0)) {
			*gid = (gid_t)strtoul(f[2], NULL, 10);
			*found = 1;
			return 0;
		}
	}
	return 0;
}

int user_resolve(const struct process_config *p, struct resolved_user *u)
{
	memset(u, 0, sizeof *u);
	snprintf(u->home, sizeof u->home, "/");
	if (!p->username) {
		u->uid = p->uid;
		u->gid = p->gid;
		for (int i = 0; i < p->nadditional && u->ngroups < 64; i++)
			u->groups[u->ngroups++] = p->additional_gids[i];
		return 0;
	}
	if (sys->read_file("/etc/passwd", passwd_buf, sizeof passwd_buf) < 0)
		passwd_buf[0] = 0;
	if (sys->read_file("/etc/group", group_buf, sizeof group_buf) < 0)
		group_buf[0] = 0;

	char spec[256];
	snprintf(spec, sizeof spec, "%s", p->username);
	char *grp = strchr(spec, ':');
	if (grp)
		*grp++ = 0;
	const char *usr = spec[0] ? spec : "0";

	char name[128] = "";
	int found = 0;
	char copy[sizeof passwd_buf];
	memcpy(copy, passwd_buf, sizeof copy);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		if (split_fields(line, f, 7) < 7)
			continue;
		if (strcmp(f[0], usr) == 0 || (is_number(usr) && strcmp(f[2], usr) == 0)) {
			u->uid = (uid_t)strtoul(f[2], NULL, 10);
			u->gid = (gid_t)strtoul(f[3], NULL, 10);
			snprintf(name, sizeof name, "%s", f[0]);
			snprintf(u->home, sizeof u->home, "%s", f[5]);
			found = 1;
			break;
		}
	}
	if (!found) {
		if (!is_number(usr))
			return failf("user", "getpwnam", usr, 0, "unable to find user %s: no matching entries in passwd file",
				     usr);
		u->uid = (uid_t)strtoul(usr, NULL, 10);
		u->gid = 0;
	}
	if (grp && *grp) {
		int gfound;
		find_group(grp, &u->gid, &gfound);
		if (!gfound) {
			if (!is_number(grp))
				return failf("user", "getgrnam", grp, 0,
					     "unable to find group %s: no matching entries in group file", grp);
			u->gid = (gid_t)strtoul(grp, NULL, 10);
		}
	}
	/* supplementary groups: every group listing the user as a member */
	if (name[0] && !grp) {
		memcpy(copy, group_buf, sizeof group_buf);
		save = NULL;
		for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *f[4];
			if (split_fields(line, f, 4) < 4)
				continue;
			char *msave = NULL;
			for (char *m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave))
				if (strcmp(m, name) == 0 && u->ngroups < 64) {
					gid_t g = (gid_t)strtoul(f[2], NULL, 10);
					if (g != u->gid)
						u->groups[u->ngroups++] = g;
				}
		}
	}
	for (int i = 0; i < p->nadditional && u->ngroups < 64; i++)
		u->groups[u->ngroups++] = p->additional_gids[i];
	return 0;
}

int user_apply(const struct resolved_user *u)
{
	char obj[64];
	snprintf(obj, sizeof obj, "%u:%u", u->uid, u->gid);
	if (sys->setgroups((size_t)u->ngroups, u->groups) < 0)
		return fail("user", "setgroups", obj, errno);
	if (sys->setresgid(u->gid, u->gid, u->gid) < 0)
		return fail("user", "setresgid", obj, errno);
	/* keep permitted caps across the uid change; caps_apply sets them next */
	if (sys->prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return fail("user", "prctl(PR_SET_KEEPCAPS)", obj, errno);
	if (sys->setresuid(u->uid, u->uid, u->uid) < 0)
		return fail("user", "setresuid", obj, errno);
	if (sys->prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return fail("user", "prctl(PR_SET_KEEPCAPS)", obj, errno);
	return 0;
}
