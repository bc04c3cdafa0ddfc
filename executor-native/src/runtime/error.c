#include "error.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct berr g_err;

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

int fail(const char *stage, const char *syscall, const char *object, int err)
{
	copy(g_err.stage, sizeof g_err.stage, stage);
	copy(g_err.syscall, sizeof g_err.syscall, syscall);
	copy(g_err.object, sizeof g_err.object, object);
	g_err.err = err;
	if (err)
		snprintf(g_err.message, sizeof g_err.message, "%s `%s`: %s", syscall, object ? object : "", strerror(err));
	else
		snprintf(g_err.message, sizeof g_err.message, "%s `%s`", syscall, object ? object : "");
	return -1;
}

int failf(const char *stage, const char *syscall, const char *object, int err, const char *fmt, ...)
{
	va_list ap;
	fail(stage, syscall, object, err);
	va_start(ap, fmt);
	vsnprintf(g_err.message, sizeof g_err.message, fmt, ap);
	va_end(ap);
	return -1;
}

const char *berr_json(void)
{
	static char buf[4096];
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("error"));
	json_object_object_add(o, "stage", json_object_new_string(g_err.stage));
	json_object_object_add(o, "syscall", json_object_new_string(g_err.syscall));
	json_object_object_add(o, "object", json_object_new_string(g_err.object));
	json_object_object_add(o, "errno", json_object_new_int(g_err.err));
	json_object_object_add(o, "message", json_object_new_string(g_err.message));
	snprintf(buf, sizeof buf, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return buf;
}
