#define _GNU_SOURCE
#include "error.h"
#include "mount.h"
#include "sys_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>

/* fd-based pivot_root(".", "."): the old root ends up stacked under the new
 * one at "/", so it can be detached without a put_old directory. */
int pivot_to(const char *root)
{
	int oldroot = sys->open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0);
	if (oldroot < 0)
		return fail("pivot_root", "open", "/", errno);
	int newroot = sys->open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0);
	if (newroot < 0) {
		sys->close(oldroot);
		return fail("pivot_root", "open", root, errno);
	}
	int rc = -1;
	if (sys->fchdir(newroot) < 0) {
		fail("pivot_root", "fchdir", root, errno);
		goto out;
	}
	if (sys->pivot_root(".", ".") < 0) {
		fail("pivot_root", "pivot_root", root, errno);
		goto out;
	}
	if (sys->fchdir(oldroot) < 0) {
		fail("pivot_root", "fchdir", "old root", errno);
		goto out;
	}
	/* must be slave before the detach, or the unmount propagates to the host */
	if (sys->mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) {
		fail("pivot_root", "mount", "rslave old root", errno);
		goto out;
	}
	if (sys->umount2(".", MNT_DETACH) < 0) {
		fail("pivot_root", "umount2", "old root", errno);
		goto out;
	}
	if (sys->chdir("/") < 0) {
		fail("pivot_root", "chdir", "/", errno);
		goto out;
	}
	rc = 0;
out:
	sys->close(oldroot);
	sys->close(newroot);
	return rc;
}
