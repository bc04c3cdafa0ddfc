#define _GNU_SOURCE
#include "error.h"
#include "runtime.h"
#include "sys_ops.h"

#include <errno.h>
#include <stdio.h>

int rlimits_apply(const struct process_config *p)
{
	for (int i = 0; i < p->nrlimits; i++) {
		struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
		if (sys->setrlimit(p->rlimits[i].resource, &rl) < 0) {
			char obj[32];
			snprintf(obj, sizeof obj, "resource %d", p->rlimits[i].resource);
			return fail("rlimits", "setrlimit", obj, errno);
		}
	}
	return 0;
}

int oom_score_adj_apply(const struct process_config *p)
{
	if (!p->has_oom_score_adj)
		return 0;
	char buf[16];
	snprintf(buf, sizeof buf, "%d", p->oom_score_adj);
	if (sys->write_file("/proc/self/oom_score_adj", buf) < 0)
		return fail("rlimits", "write", "/proc/self/oom_score_adj", errno);
	return 0;
}
