#define _GNU_SOURCE
#include "error.h"
#include "runtime.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Go's exec.LookPath semantics, which Docker's messages come from. */
int lookup_path(const char *cmd, const char *const *env, char *out, size_t outlen)
{
	if (strchr(cmd, '/')) {
		snprintf(out, outlen, "%s", cmd);
		return 0;
	}
	const char *path = DEFAULT_PATH;
	for (int i = 0; env && env[i]; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			path = env[i] + 5;
	char dirs[4096];
	snprintf(dirs, sizeof dirs, "%s", path);
	int saw_eacces = 0;
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char full[PATH_MAX];
		snprintf(full, sizeof full, "%s/%s", *d ? d : ".", cmd);
		struct stat st;
		if (stat(full, &st) < 0 || S_ISDIR(st.st_mode))
			continue;
		if (access(full, X_OK) == 0) {
			snprintf(out, outlen, "%s", full);
			return 0;
		}
		saw_eacces = 1;
	}
	if (saw_eacces)
		return failf("exec", "execve", cmd, EACCES, "exec: \"%s\": permission denied", cmd);
	return failf("exec", "execve", cmd, ENOENT, "exec: \"%s\": executable file not found in $PATH", cmd);
}
