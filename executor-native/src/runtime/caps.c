#define _GNU_SOURCE
#include "error.h"
#include "runtime.h"
#include "sys_ops.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

static int last_cap(void)
{
	char buf[32];
	if (sys->read_file("/proc/sys/kernel/cap_last_cap", buf, sizeof buf) > 0)
		return atoi(buf);
	return 40;
}

/* The host's bounding set (root here may lack some, e.g. CAP_SYS_RESOURCE):
 * caps outside it cannot be granted, so --privileged means "all of these". */
uint64_t caps_available(void)
{
	char buf[4096];
	if (sys->read_file("/proc/self/status", buf, sizeof buf) > 0) {
		char *p = strstr(buf, "CapBnd:");
		if (p)
			return strtoull(p + 7, NULL, 16);
	}
	int last = last_cap();
	return last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1;
}

int caps_drop_bounding(const struct process_config *p)
{
	if (!p->has_caps)
		return 0;
	int last = last_cap();
	uint64_t avail = caps_available();
	for (int cap = 0; cap <= last; cap++) {
		if ((p->cap_bounding & (1ULL << cap)) || !(avail & (1ULL << cap)))
			continue;
		if (sys->prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0 && errno != EINVAL) {
			char obj[32];
			snprintf(obj, sizeof obj, "%s", cap_name(cap) ? cap_name(cap) : "?");
			return fail("capabilities", "prctl(PR_CAPBSET_DROP)", obj, errno);
		}
	}
	return 0;
}

int caps_apply(const struct process_config *p)
{
	if (!p->has_caps)
		return 0;
	uint64_t avail = caps_available() & p->cap_bounding;
	uint64_t eff = p->cap_effective & avail, prm = p->cap_permitted & avail, inh = p->cap_inheritable & avail;
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)prm;
	data[1].permitted = (uint32_t)(prm >> 32);
	data[0].inheritable = (uint32_t)inh;
	data[1].inheritable = (uint32_t)(inh >> 32);
	if (sys->capset(&hdr, data) < 0)
		return fail("capabilities", "capset", "process", errno);
	uint64_t amb = p->cap_ambient & prm & inh;
	for (int cap = 0; cap < 64; cap++) {
		if (!(amb & (1ULL << cap)))
			continue;
		if (sys->prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0, 0) < 0)
			return fail("capabilities", "prctl(PR_CAP_AMBIENT_RAISE)", cap_name(cap), errno);
	}
	return 0;
}
