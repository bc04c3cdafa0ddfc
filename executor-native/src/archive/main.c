/* berth-archive: Docker's archive operations (docker cp, export) done from inside the container's
 * own view of its files, so the kernel keeps every path inside the container root whatever
 * symlinks the container planted.
 *
 *   berth-archive --pid <pid>     <op> …   a created/running container: setns into its mount
 *                                          namespace, chroot to its root, then a private copy of
 *                                          that namespace without /proc, /sys, /dev (and any
 *                                          other proc/sysfs mount): no magic link is reachable
 *   berth-archive --bundle <dir>  <op> …   a stopped one: private mount namespace, the overlay of
 *                                          <dir>/layers.json + <dir>/upper + <dir>/work mounted on
 *                                          <dir>/rootfs, chroot there
 *
 *   op: stat <path> | get <path> | put <dir> [--no-overwrite-dir-non-dir] [--user <spec>] | export
 *
 * stdout: one JSON line first, {"ok":true,…} or {"ok":false,"code":"not_found|invalid|internal",
 * "message":…}; then for get/export the tar. put reads the tar from stdin after its first line and
 * ends with a second line ({"ok":true} or an error). Exit 0 on success, 1 otherwise.
 *
 * Nothing is looked up by name (no NSS, no getpwnam: that would load the container's libraries
 * into this process) and the iconv configuration is read before chroot.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <json-c/json.h>
#include <limits.h>
#include <locale.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef SYSFS_MAGIC
#define SYSFS_MAGIC 0x62656572
#endif

/* ── output ─────────────────────────────────────────────────────────────────────────────────── */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* The error line; code: not_found | invalid | internal. Returns 1 (the exit status). */
static int __attribute__((format(printf, 2, 3))) fail_line(const char *code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fputs("{\"ok\":false,\"code\":", stdout);
	json_str(stdout, code);
	fputs(",\"message\":", stdout);
	json_str(stdout, msg);
	fputs("}\n", stdout);
	fflush(stdout);
	return 1;
}

static int ok_line(void)
{
	fputs("{\"ok\":true}\n", stdout);
	fflush(stdout);
	return 0;
}

/* ── entering the container's view ──────────────────────────────────────────────────────────── */

/* octal escapes of mountinfo (\040 for a space) */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

static bool under(const char *mp, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(mp, dir, n) == 0 && (mp[n] == 0 || mp[n] == '/');
}

/* In our private copy of the namespace (paths relative to our root, read through the host's
 * /proc): detach every mount but / (export) or the kernel filesystems (/proc, /sys, /dev and any
 * proc/sysfs elsewhere). Fails closed: a proc or sysfs that will not go away ends the operation. */
static int strip_mounts(int hostproc, bool all)
{
	int fd = openat(hostproc, "self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_line("internal", "open /proc/self/mountinfo: %s", strerror(errno));
	FILE *f = fdopen(fd, "r");
	if (!f)
		return fail_line("internal", "fdopen: %s", strerror(errno));
	char **mps = NULL;
	bool *kernelfs = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t len = 0;
	while (getline(&line, &len, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional…] - fstype source superopts */
		char *save = NULL, *fields[5] = {0};
		char *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 5; i++, tok = i < 5 ? strtok_r(NULL, " ", &save) : tok)
			fields[i] = tok;
		if (!fields[4])
			continue;
		char *fstype = NULL;
		for (char *t = strtok_r(NULL, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			if (strcmp(t, "-") == 0) {
				fstype = strtok_r(NULL, " ", &save);
				break;
			}
		}
		char *mp = fields[4];
		unescape(mp);
		if (strcmp(mp, "/") == 0)
			continue;
		bool kfs = fstype && (strcmp(fstype, "proc") == 0 || strcmp(fstype, "sysfs") == 0);
		if (!all && !kfs && !under(mp, "/proc") && !under(mp, "/sys") && !under(mp, "/dev"))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			mps = realloc(mps, cap * sizeof *mps);
			kernelfs = realloc(kernelfs, cap * sizeof *kernelfs);
			if (!mps || !kernelfs)
				return fail_line("internal", "out of memory");
		}
		mps[n] = strdup(mp);
		kernelfs[n] = kfs;
		n++;
	}
	free(line);
	fclose(f);
	/* children come after their parents in mountinfo: detach from the end */
	for (size_t i = n; i-- > 0;) {
		if (umount2(mps[i], MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT) {
			if (kernelfs[i] || all)
				return fail_line("internal", "umount `%s`: %s", mps[i], strerror(errno));
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct statfs sfs;
		if (kernelfs[i] && statfs(mps[i], &sfs) == 0 &&
		    (sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC))
			return fail_line("internal", "`%s` is still a kernel filesystem", mps[i]);
		free(mps[i]);
	}
	free(mps);
	free(kernelfs);
	return 0;
}

static int enter_pid(pid_t pid, bool export_all)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return fail_line("internal", "pidfd_open %d: %s", pid, strerror(errno));
	int hostproc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/root", pid);
	int rootfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(p, sizeof p, "/proc/%d/ns/mnt", pid);
	int nsfd = open(p, O_RDONLY | O_CLOEXEC);
	if (hostproc < 0 || rootfd < 0 || nsfd < 0)
		return fail_line("internal", "open %s: %s", p, strerror(errno));
	/* still the same process: the /proc files above were its own */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		return fail_line("internal", "container process %d is gone", pid);
	close(pidfd);
	if (setns(nsfd, CLONE_NEWNS) < 0)
		return fail_line("internal", "setns mnt of %d: %s", pid, strerror(errno));
	close(nsfd);
	if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return fail_line("internal", "chroot to the container root: %s", strerror(errno));
	close(rootfd);
	/* our own copy: what we detach, the container keeps */
	if (unshare(CLONE_NEWNS) < 0)
		return fail_line("internal", "unshare mnt: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail_line("internal", "mount rprivate /: %s", strerror(errno));
	int r = strip_mounts(hostproc, export_all);
	close(hostproc); /* the last handle on anything outside */
	return r;
}

static int enter_bundle(const char *bundle)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/layers.json", bundle);
	struct json_object *layers = json_object_from_file(path);
	if (!layers || !json_object_is_type(layers, json_type_array) || json_object_array_length(layers) == 0)
		return fail_line("internal", "read %s: %s", path, json_util_get_last_err());
	char data[16384];
	size_t off = (size_t)snprintf(data, sizeof data, "lowerdir=");
	for (size_t i = 0; i < json_object_array_length(layers); i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(layers, i));
		if (!d || d[0] != '/' || strpbrk(d, ":,"))
			return fail_line("internal", "invalid layer dir in %s", path);
		off += (size_t)snprintf(data + off, sizeof data - off, "%s%s", i ? ":" : "", d);
		if (off >= sizeof data)
			return fail_line("internal", "overlay options too long");
	}
	off += (size_t)snprintf(data + off, sizeof data - off, ",upperdir=%s/upper,workdir=%s/work", bundle, bundle);
	if (off >= sizeof data)
		return fail_line("internal", "overlay options too long");
	json_object_put(layers);
	if (unshare(CLONE_NEWNS) < 0)
		return fail_line("internal", "unshare mnt: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail_line("internal", "mount rprivate /: %s", strerror(errno));
	snprintf(path, sizeof path, "%s/rootfs", bundle);
	if (mount("overlay", path, "overlay", 0, data) < 0)
		return fail_line("internal", "mount overlay on %s: %s", path, strerror(errno));
	if (chdir(path) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return fail_line("internal", "chroot %s: %s", path, strerror(errno));
	return 0;
}

/* ── paths ──────────────────────────────────────────────────────────────────────────────────── */

/* Go's filepath.Base */
static void go_base(const char *path, char *out, size_t outlen)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 1 && path[0] == '/') {
		snprintf(out, outlen, "/");
		return;
	}
	size_t s = n;
	while (s > 0 && path[s - 1] != '/')
		s--;
	snprintf(out, outlen, "%.*s", (int)(n - s), path + s);
}

static bool ends_with_dot_or_slash(const char *p)
{
	size_t n = strlen(p);
	return (n > 0 && p[n - 1] == '/') || (n >= 2 && p[n - 1] == '.' && p[n - 2] == '/') || strcmp(p, ".") == 0;
}

/* Every symlink evaluated as far as the path exists (symlink.FollowSymlinkInScope with "/"); we
 * are chrooted, so an absolute target is the container's. */
static void resolve_in_scope(const char *path, char *out, size_t outlen)
{
	char todo[PATH_MAX * 2], cur[PATH_MAX] = "";
	snprintf(todo, sizeof todo, "%s", path);
	int links = 0;
	char *rest = todo;
	while (*rest) {
		while (*rest == '/')
			rest++;
		if (!*rest)
			break;
		char *slash = strchr(rest, '/');
		size_t clen = slash ? (size_t)(slash - rest) : strlen(rest);
		char comp[NAME_MAX + 1];
		snprintf(comp, sizeof comp, "%.*s", (int)clen, rest);
		rest += clen;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			char *l = strrchr(cur, '/');
			if (l)
				*l = 0;
			continue;
		}
		char next[PATH_MAX];
		snprintf(next, sizeof next, "%s/%s", cur, comp);
		struct stat st;
		if (links < 255 && lstat(next, &st) == 0 && S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t tl = readlink(next, target, sizeof target - 1);
			if (tl > 0) {
				target[tl] = 0;
				links++;
				char merged[PATH_MAX * 2];
				snprintf(merged, sizeof merged, "%s/%s", target, rest);
				if (target[0] == '/')
					cur[0] = 0;
				snprintf(todo, sizeof todo, "%s", merged);
				rest = todo;
				continue;
			}
		}
		snprintf(cur, sizeof cur, "%s", next);
	}
	snprintf(out, outlen, "%s", cur[0] ? cur : "/");
}

/* Go's os.FileMode bits */
static uint32_t go_mode(mode_t m)
{
	uint32_t g = m & 0777;
	switch (m & S_IFMT) {
	case S_IFDIR: g |= 1u << 31; break;
	case S_IFLNK: g |= 1u << 27; break;
	case S_IFBLK: g |= 1u << 26; break;
	case S_IFCHR: g |= (1u << 26) | (1u << 21); break;
	case S_IFIFO: g |= 1u << 25; break;
	case S_IFSOCK: g |= 1u << 24; break;
	}
	if (m & S_ISUID)
		g |= 1u << 23;
	if (m & S_ISGID)
		g |= 1u << 22;
	if (m & S_ISVTX)
		g |= 1u << 20;
	return g;
}

static void rfc3339nano(struct timespec ts, char *out, size_t outlen)
{
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ts.tv_nsec) {
		char frac[16];
		snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
		size_t fl = strlen(frac);
		while (frac[fl - 1] == '0')
			frac[--fl] = 0;
		n += (size_t)snprintf(out + n, outlen - n, "%s", frac);
	}
	snprintf(out + n, outlen - n, "Z");
}

static int not_found_or(const char *path, int err, const char *what)
{
	if (err == ENOENT)
		return fail_line("not_found", "%s", path);
	if (err == ENOTDIR)
		return fail_line("invalid", "%s: not a directory", path);
	return fail_line("internal", "%s `%s`: %s", what, path, strerror(err));
}

/* ── ops ────────────────────────────────────────────────────────────────────────────────────── */

static int op_stat(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return not_found_or(path, errno, "lstat");
	char name[NAME_MAX + 2], mtime[64], target[PATH_MAX] = "";
	go_base(path, name, sizeof name);
	rfc3339nano(st.st_mtim, mtime, sizeof mtime);
	if (S_ISLNK(st.st_mode))
		resolve_in_scope(path, target, sizeof target);
	printf("{\"ok\":true,\"stat\":{\"name\":");
	json_str(stdout, name);
	printf(",\"size\":%lld,\"mode\":%u,\"mtime\":\"%s\",\"linkTarget\":", (long long)st.st_size, go_mode(st.st_mode),
	       mtime);
	json_str(stdout, target);
	printf("}}\n");
	fflush(stdout);
	return 0;
}

struct tar_out {
	struct archive *disk, *out;
	struct archive_entry_linkresolver *links;
};

static int tar_open(struct tar_out *t, bool no_traverse_mounts)
{
	t->out = archive_write_new();
	archive_write_set_format_pax_restricted(t->out);
	archive_write_set_bytes_in_last_block(t->out, 1);
	if (archive_write_open_fd(t->out, STDOUT_FILENO) != ARCHIVE_OK)
		return fail_line("internal", "tar: %s", archive_error_string(t->out));
	t->disk = archive_read_disk_new();
	archive_read_disk_set_symlink_physical(t->disk);
	archive_read_disk_set_behavior(t->disk, ARCHIVE_READDISK_NO_SPARSE | ARCHIVE_READDISK_NO_ACL |
							ARCHIVE_READDISK_NO_FFLAGS |
							(no_traverse_mounts ? ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS : 0));
	t->links = archive_entry_linkresolver_new();
	archive_entry_linkresolver_set_strategy(t->links, archive_format(t->out));
	return 0;
}

static int write_entry(struct tar_out *t, struct archive_entry *e, bool with_data)
{
	if (archive_write_header(t->out, e) < ARCHIVE_WARN) {
		fprintf(stderr, "berth-archive: %s: %s\n", archive_entry_pathname(e), archive_error_string(t->out));
		return -1;
	}
	if (!with_data || archive_entry_size(e) == 0)
		return 0;
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;
	while ((r = archive_read_data_block(t->disk, &buf, &size, &offset)) == ARCHIVE_OK) {
		if (archive_write_data(t->out, buf, size) < 0) {
			fprintf(stderr, "berth-archive: write: %s\n", archive_error_string(t->out));
			return -1;
		}
	}
	if (r != ARCHIVE_EOF) {
		fprintf(stderr, "berth-archive: read %s: %s\n", archive_entry_pathname(e), archive_error_string(t->disk));
		return -1;
	}
	return 0;
}

/* Walks `open_name` (relative to the cwd); each entry's leading `open_name` becomes `rebase`
 * ("" = dropped, for export). */
static int tar_walk(struct tar_out *t, const char *open_name, const char *rebase)
{
	if (archive_read_disk_open(t->disk, open_name) != ARCHIVE_OK) {
		fprintf(stderr, "berth-archive: open %s: %s\n", open_name, archive_error_string(t->disk));
		return -1;
	}
	size_t olen = strlen(open_name);
	for (;;) {
		struct archive_entry *e = archive_entry_new();
		int r = archive_read_next_header2(t->disk, e);
		if (r == ARCHIVE_EOF) {
			archive_entry_free(e);
			break;
		}
		if (r < ARCHIVE_WARN) {
			fprintf(stderr, "berth-archive: %s\n", archive_error_string(t->disk));
			archive_entry_free(e);
			return -1;
		}
		if (archive_read_disk_can_descend(t->disk))
			archive_read_disk_descend(t->disk);
		if (archive_entry_filetype(e) == AE_IFSOCK) { /* tar has no sockets */
			archive_entry_free(e);
			continue;
		}
		const char *p = archive_entry_pathname(e);
		const char *tail = strncmp(p, open_name, olen) == 0 ? p + olen : p;
		char name[PATH_MAX * 2];
		if (!rebase[0]) {
			while (*tail == '/')
				tail++;
			if (!*tail) { /* the root itself */
				archive_entry_free(e);
				continue;
			}
			snprintf(name, sizeof name, "%s", tail);
		} else {
			snprintf(name, sizeof name, "%s%s", rebase, tail);
		}
		archive_entry_copy_pathname(e, name);
		archive_entry_copy_sourcepath(e, p);
		struct archive_entry *spare = NULL;
		archive_entry_linkify(t->links, &e, &spare);
		if (e && write_entry(t, e, archive_entry_hardlink(e) == NULL) < 0)
			return -1;
		if (e)
			archive_entry_free(e);
		if (spare)
			archive_entry_free(spare);
	}
	archive_read_close(t->disk);
	return 0;
}

static int tar_close(struct tar_out *t)
{
	struct archive_entry *e = NULL, *spare = NULL;
	archive_entry_linkify(t->links, &e, &spare);
	archive_entry_linkresolver_free(t->links);
	archive_read_free(t->disk);
	int r = archive_write_close(t->out);
	archive_write_free(t->out);
	return r == ARCHIVE_OK ? 0 : -1;
}

static int op_get(const char *path)
{
	char base[NAME_MAX + 2];
	go_base(path, base, sizeof base);
	const char *open_name, *rebase;
	char dir[PATH_MAX];
	if (ends_with_dot_or_slash(path) || strcmp(path, "/") == 0) {
		/* `/etc/` and `/etc/.`: the directory itself (followed), entries under its own name or `.` */
		snprintf(dir, sizeof dir, "%s", path);
		open_name = ".";
		rebase = strcmp(base, "/") == 0 ? "." : base;
	} else {
		snprintf(dir, sizeof dir, "%s", path);
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			dir[1] = 0;
		else if (slash)
			*slash = 0;
		else
			snprintf(dir, sizeof dir, "/");
		open_name = base;
		rebase = base;
	}
	if (op_stat(path) != 0)
		return 1;
	if (chdir(dir) < 0) {
		fprintf(stderr, "berth-archive: chdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	struct tar_out t;
	if (tar_open(&t, false) != 0)
		return 1;
	if (tar_walk(&t, open_name, rebase) < 0)
		return 1;
	return tar_close(&t) < 0 ? 1 : 0;
}

static int op_export(void)
{
	if (chdir("/") < 0)
		return fail_line("internal", "chdir /: %s", strerror(errno));
	ok_line();
	struct tar_out t;
	if (tar_open(&t, true) != 0)
		return 1;
	if (tar_walk(&t, ".", "") < 0)
		return 1;
	return tar_close(&t) < 0 ? 1 : 0;
}

/* Docker's --user forms (name, uid, name:group, uid:gid) against the container's own files. */
static int lookup_id(const char *file, const char *key, int *id, int *gid)
{
	char *end;
	long n = strtol(key, &end, 10);
	bool numeric = *key && !*end;
	FILE *f = fopen(file, "re");
	if (f) {
		char line[1024];
		while (fgets(line, sizeof line, f)) {
			char *save = NULL;
			char *name = strtok_r(line, ":", &save);
			strtok_r(NULL, ":", &save);
			char *idf = strtok_r(NULL, ":", &save);
			char *gidf = strtok_r(NULL, ":", &save);
			if (!name || !idf)
				continue;
			if ((numeric && atol(idf) == n) || (!numeric && strcmp(name, key) == 0)) {
				*id = atoi(idf);
				if (gid && gidf)
					*gid = atoi(gidf);
				fclose(f);
				return 0;
			}
		}
		fclose(f);
	}
	if (numeric) {
		*id = (int)n;
		return 0;
	}
	return -1;
}

static int resolve_user(const char *spec, int *uid, int *gid)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", spec);
	char *group = strchr(buf, ':');
	if (group)
		*group++ = 0;
	*gid = 0;
	if (lookup_id("/etc/passwd", buf, uid, gid) < 0)
		return fail_line("internal", "unable to find user %s: no matching entries in passwd file", buf);
	if (group && lookup_id("/etc/group", group, gid, NULL) < 0)
		return fail_line("internal", "unable to find group %s: no matching entries in group file", group);
	return 0;
}

static int op_put(const char *path, bool no_overwrite_dir_non_dir, const char *user)
{
	/* the destination with every symlink followed, the last one too (Docker's EvalSymlinks) */
	if (chdir(path) < 0) {
		if (errno == ENOTDIR)
			return fail_line("invalid", "extraction point is not a directory");
		return not_found_or(path, errno, "chdir");
	}
	int uid = -1, gid = -1;
	if (user && user[0] && resolve_user(user, &uid, &gid) != 0)
		return 1;
	ok_line();

	struct archive *in = archive_read_new();
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	archive_read_support_filter_all(in);
	struct archive *out = archive_write_disk_new();
	/* No SECURE_SYMLINKS: the chroot already keeps every write inside the container, and Docker
	 * writes through the container's own symlinks (/bin -> usr/bin in merged-/usr images). */
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
						    ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
						    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (archive_read_open_fd(in, STDIN_FILENO, 64 * 1024) != ARCHIVE_OK)
		return fail_line("invalid", "%s", archive_error_string(in));
	int rc = 0;
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = fail_line("invalid", "%s", archive_error_string(in));
			break;
		}
		/* Docker joins absolute names under the destination */
		const char *name = archive_entry_pathname(e);
		if (name && name[0] == '/') {
			while (*name == '/')
				name++;
			char copy[PATH_MAX];
			snprintf(copy, sizeof copy, "%s", *name ? name : ".");
			archive_entry_copy_pathname(e, copy);
		}
		const char *hl = archive_entry_hardlink(e);
		if (hl && hl[0] == '/') {
			while (*hl == '/')
				hl++;
			char copy[PATH_MAX];
			snprintf(copy, sizeof copy, "%s", hl);
			archive_entry_copy_hardlink(e, copy);
		}
		name = archive_entry_pathname(e);
		if (no_overwrite_dir_non_dir) {
			struct stat st;
			bool is_dir = archive_entry_filetype(e) == AE_IFDIR;
			if (lstat(name, &st) == 0) {
				if (S_ISDIR(st.st_mode) && !is_dir) {
					rc = fail_line("invalid", "cannot overwrite directory \"%s/%s\" with non-directory \"%s\"",
						       strcmp(path, "/") ? path : "", name, path);
					break;
				}
				if (!S_ISDIR(st.st_mode) && is_dir) {
					rc = fail_line("invalid", "cannot overwrite non-directory \"%s/%s\" with directory \"%s\"",
						       strcmp(path, "/") ? path : "", name, path);
					break;
				}
			}
		}
		if (uid >= 0) {
			archive_entry_set_uid(e, uid);
			archive_entry_set_gid(e, gid);
		}
		r = archive_write_header(out, e);
		if (r < ARCHIVE_WARN) {
			rc = fail_line(archive_errno(out) == EROFS ? "invalid" : "internal", "%s: %s", name,
				       archive_error_string(out));
			break;
		}
		if (archive_entry_size(e) > 0) {
			const void *buf;
			size_t size;
			la_int64_t offset;
			while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
				if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN) {
					r = ARCHIVE_FATAL;
					break;
				}
			}
			if (r != ARCHIVE_EOF) {
				rc = fail_line("internal", "%s: %s", name,
					       archive_error_string(r == ARCHIVE_FATAL ? out : in));
				break;
			}
		}
		if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
			rc = fail_line("internal", "%s: %s", name, archive_error_string(out));
			break;
		}
	}
	if (rc == 0 && archive_write_close(out) < ARCHIVE_WARN)
		rc = fail_line("internal", "%s", archive_error_string(out));
	archive_write_free(out);
	archive_read_free(in);
	return rc ? rc : ok_line();
}

/* ── main ───────────────────────────────────────────────────────────────────────────────────── */

static int usage(void)
{
	return fail_line("invalid", "usage: berth-archive (--pid <pid> | --bundle <dir>) "
				    "(stat <path> | get <path> | put <dir> [--no-overwrite-dir-non-dir] [--user <spec>] | export)");
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 4)
		return usage();
	const char *how = argv[1], *where = argv[2], *op = argv[3];
	const char *path = argc > 4 ? argv[4] : NULL;
	bool no_overwrite = false;
	const char *user = NULL;
	for (int i = 5; i < argc; i++) {
		if (strcmp(argv[i], "--no-overwrite-dir-non-dir") == 0)
			no_overwrite = true;
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else
			return usage();
	}
	bool is_export = strcmp(op, "export") == 0;
	if (!is_export && (!path || path[0] != '/'))
		return usage();

	/* locale and iconv configuration come from the host, before chroot (never lazily from the
	 * container's files afterwards) */
	setlocale(LC_CTYPE, "C.UTF-8");
	iconv_t cd = iconv_open("UTF-8", "ANSI_X3.4-1968");
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	cd = iconv_open("ANSI_X3.4-1968", "UTF-8");
	if (cd != (iconv_t)-1)
		iconv_close(cd);

	int r;
	if (strcmp(how, "--pid") == 0)
		r = enter_pid((pid_t)atoi(where), is_export);
	else if (strcmp(how, "--bundle") == 0)
		r = enter_bundle(where);
	else
		return usage();
	if (r != 0)
		return 1;

	if (strcmp(op, "stat") == 0)
		return op_stat(path);
	if (strcmp(op, "get") == 0)
		return op_get(path);
	if (strcmp(op, "put") == 0)
		return op_put(path, no_overwrite, user);
	if (is_export)
		return op_export();
	return usage();
}
