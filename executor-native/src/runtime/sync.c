#define _GNU_SOURCE
#include "error.h"
#include "runtime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sync_send(int fd, const char *json_line)
{
	char buf[4200];
	int n = snprintf(buf, sizeof buf, "%s\n", json_line);
	if (n < 0 || (size_t)n >= sizeof buf)
		return -1;
	size_t off = 0;
	while (off < (size_t)n) {
		ssize_t w = write(fd, buf + off, (size_t)n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

int sync_send_error(int fd) { return sync_send(fd, berr_json()); }

int sync_send_pid(int fd, pid_t pid)
{
	char buf[64];
	snprintf(buf, sizeof buf, "{\"type\":\"pid\",\"pid\":%d}", (int)pid);
	return sync_send(fd, buf);
}

int sync_wait_go(int fd)
{
	char b;
	for (;;) {
		ssize_t n = read(fd, &b, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1 && b == 'G')
			return 0;
		if (n == 1)
			return failf("sync", "read", "sync fd", EPROTO, "sync: got byte 0x%02x, expected 'G'", (unsigned char)b);
		return failf("sync", "read", "sync fd", n < 0 ? errno : 0, "sync: parent closed before go");
	}
}
