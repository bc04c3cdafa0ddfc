/* Static probe copied into test rootfses: runs one syscall busybox cannot. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "keyctl") == 0) {
		/* KEYCTL_GET_KEYRING_ID (0), KEY_SPEC_SESSION_KEYRING (-3), create */
		long r = syscall(SYS_keyctl, 0, -3, 1);
		printf("keyctl=%ld errno=%d\n", r, r < 0 ? errno : 0);
		return r < 0;
	}
	fprintf(stderr, "usage: probe keyctl\n");
	return 2;
}
