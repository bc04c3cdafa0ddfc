/* One error convention (crun's): every failing step fills g_err with the stage,
 * the syscall, the object it acted on and errno, and returns -1. The init is
 * single-threaded, so one global is enough. */
#ifndef BERTH_ERROR_H
#define BERTH_ERROR_H

#include <stddef.h>

struct berr {
	char stage[32];
	char syscall[32];
	char object[512];
	int err; /* raw errno, 0 when not from a syscall */
	char message[1024];
};

extern struct berr g_err;

/* Fills g_err; message = "<syscall> `<object>`: <strerror>" unless msg given. Returns -1. */
int fail(const char *stage, const char *syscall, const char *object, int err);
int failf(const char *stage, const char *syscall, const char *object, int err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* JSON line (no newline) for g_err: {"type":"error",...}. Returns a static buffer. */
const char *berr_json(void);

#endif
