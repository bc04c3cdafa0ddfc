/*
 * berth-unpack: extracts one UNCOMPRESSED layer tar read from stdin into <dest> (an empty directory
 * that becomes an overlayfs lower dir). The caller decompresses, hashes (diffID) and verifies the
 * blob; this program only turns tar entries into files, fast and safely:
 *
 *   berth-unpack [--owner|--no-owner] <dest>
 *
 * The layer is hostile input and this runs as root. The rules are those of libs/oci layer-unpack.ts:
 *  - absolute names resolve inside the root; any `..` component is refused;
 *  - nothing is created through a symlink: parents are opened component by component with
 *    O_NOFOLLOW from the root's fd, and every object is created *at* its parent's fd (creation is
 *    exclusive; an existing final component is removed first, a directory only if replaced);
 *  - relative symlink targets climbing out of the root are refused;
 *  - hard links must name a non-directory of this layer reached without symlinks;
 *  - `trusted.overlay.*` xattrs from the tar are dropped.
 * Whiteouts: `.wh.<name>` -> char device 0/0 `<name>`; `.wh..wh..opq` -> trusted.overlay.opaque=y
 * on the directory; other `.wh..wh.*` (aufs metadata) are skipped.
 *
 * Output: on success one JSON line on stdout {"entries": N, "bytes": M}, exit 0. On failure one JSON
 * line on stderr {"error": "...", "refused": true|false, "entry": "..."} and exit 2 (refused entry)
 * or 1 (any other error). The caller removes <dest> on failure. Nothing is fsync'ed.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- errors: errno + a message naming the object; a refusal is a separate kind ---- */

static struct {
  bool refused;
  char msg[8192];
} err;
static const char *cur_entry = "";

static int fail(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err.msg, sizeof err.msg, fmt, ap);
  va_end(ap);
  if (errnum && n >= 0 && (size_t)n < sizeof err.msg) snprintf(err.msg + n, sizeof err.msg - n, ": %s", strerror(errnum));
  err.refused = false;
  return -1;
}

static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int refuse(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err.msg, sizeof err.msg, fmt, ap);
  va_end(ap);
  err.refused = true;
  return -1;
}

/* JSON string body (without quotes): escapes '"', '\\' and control bytes; other bytes pass as is. */
static void json_str(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
}

/* `"name"` as JSON.stringify would write it, for messages. */
static const char *quoted(const char *s) {
  static char buf[2][4096];
  static int which;
  char *b = buf[which ^= 1];
  size_t o = 0;
  b[o++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p && o < sizeof buf[0] - 8; p++) {
    if (*p == '"' || *p == '\\') {
      b[o++] = '\\';
      b[o++] = *p;
    } else if (*p < 0x20) {
      o += snprintf(b + o, 8, "\\u%04x", *p);
    } else {
      b[o++] = *p;
    }
  }
  b[o++] = '"';
  b[o] = 0;
  return b;
}

/* ---- paths ---- */

struct parts {
  char *buf;
  char **v;
  size_t n;
};

static void parts_free(struct parts *p) {
  free(p->buf);
  free(p->v);
  p->buf = NULL;
  p->v = NULL;
  p->n = 0;
}

/* Splits a tar name into components, dropping '' and '.'; refuses '..'. */
static int split(const char *name, const char *what, struct parts *out) {
  size_t len = strlen(name);
  out->buf = strdup(name);
  out->v = malloc(sizeof(char *) * (len / 2 + 2));
  out->n = 0;
  if (!out->buf || !out->v) return fail(ENOMEM, "split %s", quoted(name));
  char *save = NULL;
  for (char *t = strtok_r(out->buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
    if (!strcmp(t, ".")) continue;
    if (!strcmp(t, "..")) return refuse("refusing layer entry %s: %s contains \"..\"", quoted(cur_entry), what);
    out->v[out->n++] = t;
  }
  return 0;
}

static bool same_parts(const struct parts *a, const struct parts *b) {
  if (a->n != b->n) return false;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->v[i], b->v[i])) return false;
  return true;
}

/* `a/b/c` of the first n components, for messages. */
static const char *joined(const struct parts *p, size_t n) {
  static char b[4096];
  size_t o = 0;
  b[0] = 0;
  for (size_t i = 0; i < n && o < sizeof b - 1; i++) o += snprintf(b + o, sizeof b - o, "%s%s", i ? "/" : "", p->v[i]);
  return b;
}

/* ---- the open parent chain: fds of the current entry's parent directories, reused across entries
 * (a tar lists a directory's children together, so most entries need no open at all). Invariant: the
 * stack is exactly some entry's parent chain, and entries only change children of their parent, so
 * a cached fd never refers to a replaced directory. ---- */

#define MAX_DEPTH 1024
static int root_fd = -1;
static struct {
  int fd[MAX_DEPTH];
  char *name[MAX_DEPTH];
  size_t n;
} st;

static void stack_pop(size_t to) {
  while (st.n > to) {
    st.n--;
    close(st.fd[st.n]);
    free(st.name[st.n]);
  }
}

enum { RESOLVE_CREATE = 1 };

/*
 * Returns an fd for the directory made of the first n components (root_fd when n == 0), creating
 * missing ones when asked. A symlink or non-directory on the way refuses the entry; without
 * RESOLVE_CREATE a missing component returns -2 with no error set.
 */
static int resolve(const struct parts *p, size_t n, int flags) {
  if (n > MAX_DEPTH) return refuse("refusing layer entry %s: more than %d path components", quoted(cur_entry), MAX_DEPTH);
  size_t common = 0;
  while (common < st.n && common < n && !strcmp(st.name[common], p->v[common])) common++;
  stack_pop(common);
  for (size_t i = common; i < n; i++) {
    int dfd = i ? st.fd[i - 1] : root_fd;
    int fd = openat(dfd, p->v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      if (!(flags & RESOLVE_CREATE)) return -2;
      if (mkdirat(dfd, p->v[i], 0755) < 0 && errno != EEXIST) return fail(errno, "mkdir `%s`", joined(p, i + 1));
      fd = openat(dfd, p->v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int e = errno;
      struct stat sb;
      if (e == ELOOP || e == ENOTDIR) {
        if (!(flags & RESOLVE_CREATE)) return -2;
        if (fstatat(dfd, p->v[i], &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
          return refuse("refusing layer entry %s: parent %s is a symlink", quoted(cur_entry), quoted(joined(p, i + 1)));
        return refuse("refusing layer entry %s: parent %s is not a directory", quoted(cur_entry), quoted(joined(p, i + 1)));
      }
      return fail(e, "open `%s`", joined(p, i + 1));
    }
    st.fd[st.n] = fd;
    st.name[st.n] = strdup(p->v[i]);
    if (!st.name[st.n]) {
      close(fd);
      return fail(ENOMEM, "open `%s`", joined(p, i + 1));
    }
    st.n++;
  }
  return n ? st.fd[n - 1] : root_fd;
}

/* ---- removing what an entry replaces ---- */

static int remove_tree(int pfd, const char *name) {
  int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fail(errno, "open `%s`", name);
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return fail(errno, "fdopendir `%s`", name);
  }
  int rc = 0;
  struct dirent *de;
  while (rc == 0 && (errno = 0, de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    bool dir = de->d_type == DT_DIR;
    if (de->d_type == DT_UNKNOWN) {
      struct stat sb;
      if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = fail(errno, "stat `%s`", de->d_name);
        break;
      }
      dir = S_ISDIR(sb.st_mode);
    }
    if (dir) rc = remove_tree(fd, de->d_name);
    else if (unlinkat(fd, de->d_name, 0) < 0) rc = fail(errno, "unlink `%s`", de->d_name);
  }
  if (rc == 0 && errno) rc = fail(errno, "readdir `%s`", name);
  closedir(d);
  if (rc == 0 && unlinkat(pfd, name, AT_REMOVEDIR) < 0) rc = fail(errno, "rmdir `%s`", name);
  return rc;
}

/* Removes whatever is at name unless it and the new entry are both directories: 1 = kept. */
static int clear_target(int pfd, const char *name, bool keep_dir) {
  struct stat sb;
  if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return 0;
    return fail(errno, "stat `%s`", name);
  }
  if (S_ISDIR(sb.st_mode)) {
    if (keep_dir) return 1;
    return remove_tree(pfd, name);
  }
  if (unlinkat(pfd, name, 0) < 0) return fail(errno, "unlink `%s`", name);
  return 0;
}

/* ---- metadata ---- */

static bool preserve_owner;

struct dir_time {
  char *path; /* relative to the root, "" for the root */
  struct timespec ts[2];
};
static struct dir_time *dir_times;
static size_t n_dir_times, cap_dir_times;

static void entry_times(struct archive_entry *e, struct timespec ts[2]) {
  ts[1].tv_sec = archive_entry_mtime_is_set(e) ? archive_entry_mtime(e) : 0;
  ts[1].tv_nsec = archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : 0;
  if (archive_entry_atime_is_set(e)) {
    ts[0].tv_sec = archive_entry_atime(e);
    ts[0].tv_nsec = archive_entry_atime_nsec(e);
  } else {
    ts[0] = ts[1];
  }
}

static bool xattr_tolerated(int e) { return e == ENOTSUP || e == EOPNOTSUPP || e == EPERM; }

/*
 * Owner, mode, xattrs and times of a just-created object: through `fd` when there is one (regular
 * files), else at (pfd, name) without following a final symlink. Directory times are applied at the
 * end, deepest first, so creating children does not disturb them.
 */
static int apply_meta(int pfd, const char *name, int fd, struct archive_entry *e, const char *rel, bool is_dir) {
  mode_t type = archive_entry_filetype(e);
  bool is_link = type == AE_IFLNK;
  if (preserve_owner) {
    uid_t uid = archive_entry_uid(e);
    gid_t gid = archive_entry_gid(e);
    int r = fd >= 0 ? fchown(fd, uid, gid) : fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
    if (r < 0) return fail(errno, "chown `%s`", rel);
  }
  /* chmod after chown: chown clears set-id bits. */
  if (!is_link) {
    mode_t mode = archive_entry_perm(e) & 07777;
    int r = fd >= 0 ? fchmod(fd, mode) : fchmodat(pfd, name, mode, 0);
    if (r < 0) return fail(errno, "chmod `%s`", rel);
  }
  const char *xname;
  const void *xval;
  size_t xsize;
  if (archive_entry_xattr_reset(e) > 0) {
    bool cwd_set = false;
    while (archive_entry_xattr_next(e, &xname, &xval, &xsize) == ARCHIVE_OK) {
      if (!strncmp(xname, "trusted.overlay.", 16)) continue;
      int r;
      if (fd >= 0) {
        r = fsetxattr(fd, xname, xval, xsize, 0);
      } else {
        /* No fd for symlinks and nodes: name them relative to their parent, never followed. */
        if (!cwd_set && fchdir(pfd) < 0) return fail(errno, "chdir to the parent of `%s`", rel);
        cwd_set = true;
        r = lsetxattr(name, xname, xval, xsize, 0);
      }
      if (r < 0 && !xattr_tolerated(errno)) return fail(errno, "setxattr %s `%s`", xname, rel);
    }
  }
  struct timespec ts[2];
  entry_times(e, ts);
  if (is_dir) {
    if (n_dir_times == cap_dir_times) {
      size_t cap = cap_dir_times ? cap_dir_times * 2 : 256;
      struct dir_time *n = realloc(dir_times, cap * sizeof *n);
      if (!n) return fail(ENOMEM, "record times of `%s`", rel);
      dir_times = n;
      cap_dir_times = cap;
    }
    dir_times[n_dir_times].path = strdup(rel);
    if (!dir_times[n_dir_times].path) return fail(ENOMEM, "record times of `%s`", rel);
    memcpy(dir_times[n_dir_times].ts, ts, sizeof ts);
    n_dir_times++;
    return 0;
  }
  int r = fd >= 0 ? futimens(fd, ts) : utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
  if (r < 0) return fail(errno, "set times of `%s`", rel);
  return 0;
}

static int apply_dir_times(void) {
  for (size_t i = n_dir_times; i-- > 0;) {
    struct dir_time *d = &dir_times[i];
    if (!*d->path) {
      if (futimens(root_fd, d->ts) < 0) return fail(errno, "set times of the layer root");
      continue;
    }
    struct parts p = {0};
    int rc = split(d->path, "path", &p);
    if (rc == 0 && p.n) {
      cur_entry = d->path;
      int pfd = resolve(&p, p.n - 1, 0);
      /* A directory replaced later in the layer (by a file, or under a symlink) is skipped. */
      if (pfd >= 0 && utimensat(pfd, p.v[p.n - 1], d->ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
        rc = fail(errno, "set times of `%s`", d->path);
      else if (pfd == -1)
        rc = -1;
    }
    parts_free(&p);
    if (rc < 0) return rc;
  }
  return 0;
}

/* ---- one entry ---- */

static uint64_t bytes_written;

static int write_data(struct archive *a, int fd, const char *rel, la_int64_t size) {
  const void *buf;
  size_t len;
  la_int64_t off, end = 0;
  int r;
  while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
    const char *p = buf;
    while (len) {
      ssize_t w = off == end ? write(fd, p, len) : pwrite(fd, p, len, off);
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail(errno, "write `%s`", rel);
      }
      if (off != end && lseek(fd, off + w, SEEK_SET) < 0) return fail(errno, "seek `%s`", rel);
      p += w;
      len -= w;
      off += w;
      end = off;
      bytes_written += w;
    }
  }
  if (r != ARCHIVE_EOF) return fail(archive_errno(a) > 0 ? archive_errno(a) : 0, "read tar data of `%s`: %s", rel, archive_error_string(a) ?: "error");
  /* Sparse files end in a hole. */
  if (size > end && ftruncate(fd, size) < 0) return fail(errno, "truncate `%s`", rel);
  return 0;
}

static int create_file(struct archive *a, struct archive_entry *e, int pfd, const char *base, const char *rel) {
  int fd = -1;
  for (int attempt = 0; attempt < 2; attempt++) {
    /* O_EXCL|O_NOFOLLOW: refuses anything that is (or reappeared) at the name. */
    fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 || errno != EEXIST || attempt) break;
    if (clear_target(pfd, base, false) < 0) return -1;
  }
  if (fd < 0) return fail(errno, "create `%s`", rel);
  int rc = write_data(a, fd, rel, archive_entry_size_is_set(e) ? archive_entry_size(e) : 0);
  if (rc == 0) rc = apply_meta(pfd, base, fd, e, rel, false);
  if (close(fd) < 0 && rc == 0) rc = fail(errno, "close `%s`", rel);
  return rc;
}

/* Runs `mk` (mkdirat, symlinkat, mknodat, linkat at pfd/base); an existing object is removed first. */
#define CREATE_AT(call, what)                                          \
  do {                                                                 \
    int _r = (call);                                                   \
    if (_r < 0 && errno == EEXIST) {                                   \
      if (clear_target(pfd, base, false) < 0) return -1;               \
      _r = (call);                                                     \
    }                                                                  \
    if (_r < 0) return fail(errno, "%s `%s`", what, rel);              \
  } while (0)

static bool climbs_out(const struct parts *entry, const char *target) {
  long depth = (long)entry->n - 1; /* components of the symlink's directory */
  char *t = strdup(target);
  if (!t) return true;
  bool out = false;
  char *save = NULL;
  for (char *c = strtok_r(t, "/", &save); c && !out; c = strtok_r(NULL, "/", &save)) {
    if (!strcmp(c, ".")) continue;
    if (!strcmp(c, "..")) out = --depth < 0;
    else depth++;
  }
  free(t);
  return out;
}

static int hard_link(struct archive_entry *e, const struct parts *p, int pfd, const char *base, const char *rel) {
  const char *target = archive_entry_hardlink(e);
  struct parts lp = {0};
  int rc = split(target, "hard link target", &lp);
  if (rc < 0) goto out;
  if (!lp.n) {
    rc = refuse("refusing layer entry %s: hard link to the layer root", quoted(cur_entry));
    goto out;
  }
  /* The target's own walk, never following a symlink; the entry's parent chain stays cached. */
  int dfd = root_fd, owned = -1;
  for (size_t i = 0; i + 1 < lp.n; i++) {
    int fd = openat(dfd, lp.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (owned >= 0) close(owned);
    if (fd < 0) {
      rc = refuse("refusing layer entry %s: hard link target %s is not inside this layer", quoted(cur_entry), quoted(target));
      goto out;
    }
    dfd = owned = fd;
  }
  const char *lbase = lp.v[lp.n - 1];
  struct stat sb;
  if (fstatat(dfd, lbase, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
    rc = errno == ENOENT || errno == ENOTDIR
             ? refuse("refusing layer entry %s: hard link target %s is not inside this layer", quoted(cur_entry), quoted(target))
             : fail(errno, "stat `%s`", target);
  } else if (S_ISDIR(sb.st_mode)) {
    rc = refuse("refusing layer entry %s: hard link to a directory", quoted(cur_entry));
  } else if (!same_parts(&lp, p)) {
    /* linkat without AT_SYMLINK_FOLLOW links a final symlink itself. */
    rc = linkat(dfd, lbase, pfd, base, 0);
    if (rc < 0 && errno == EEXIST) {
      rc = clear_target(pfd, base, false);
      if (rc == 0) rc = linkat(dfd, lbase, pfd, base, 0);
    }
    if (rc < 0 && !err.msg[0]) rc = fail(errno, "link `%s` to `%s`", rel, target);
  }
  if (owned >= 0) close(owned);
out:
  parts_free(&lp);
  return rc;
}

static int do_entry(struct archive *a, struct archive_entry *e, const struct parts *p) {
  const char *rel = joined(p, p->n);
  static char relbuf[4096];
  snprintf(relbuf, sizeof relbuf, "%s", rel);
  rel = relbuf;
  mode_t type = archive_entry_filetype(e);
  bool is_hardlink = archive_entry_hardlink(e) != NULL;

  if (p->n == 0) {
    /* The root itself ("./"): only a directory may describe it. */
    if (type != AE_IFDIR || is_hardlink) return refuse("refusing layer entry %s: the layer root must be a directory", quoted(cur_entry));
    if (preserve_owner && fchown(root_fd, archive_entry_uid(e), archive_entry_gid(e)) < 0) return fail(errno, "chown the layer root");
    if (fchmod(root_fd, archive_entry_perm(e) & 07777) < 0) return fail(errno, "chmod the layer root");
    const char *xname;
    const void *xval;
    size_t xsize;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &xname, &xval, &xsize) == ARCHIVE_OK) {
      if (strncmp(xname, "trusted.overlay.", 16) && fsetxattr(root_fd, xname, xval, xsize, 0) < 0 && !xattr_tolerated(errno))
        return fail(errno, "setxattr %s on the layer root", xname);
    }
    struct timespec ts[2];
    entry_times(e, ts);
    if (n_dir_times == cap_dir_times) {
      size_t cap = cap_dir_times ? cap_dir_times * 2 : 256;
      struct dir_time *n = realloc(dir_times, cap * sizeof *n);
      if (!n) return fail(ENOMEM, "record times of the layer root");
      dir_times = n;
      cap_dir_times = cap;
    }
    dir_times[n_dir_times].path = strdup("");
    memcpy(dir_times[n_dir_times].ts, ts, sizeof ts);
    n_dir_times++;
    return 0;
  }

  const char *base = p->v[p->n - 1];
  if (!strncmp(base, ".wh.", 4)) {
    int pfd = resolve(p, p->n - 1, RESOLVE_CREATE);
    if (pfd < 0) return -1;
    if (!strcmp(base, ".wh..wh..opq")) {
      if (fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0) return fail(errno, "setxattr trusted.overlay.opaque `%s`", joined(p, p->n - 1));
    } else if (strncmp(base, ".wh..wh.", 8)) {
      const char *hidden = base + 4;
      if (!*hidden || !strcmp(hidden, ".") || !strcmp(hidden, "..")) return refuse("refusing layer entry %s: invalid whiteout", quoted(cur_entry));
      if (clear_target(pfd, hidden, false) < 0) return -1;
      if (mknodat(pfd, hidden, S_IFCHR, makedev(0, 0)) < 0) return fail(errno, "mknod whiteout `%s`", rel);
      if (preserve_owner && fchownat(pfd, hidden, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
        return fail(errno, "chown whiteout `%s`", rel);
    }
    return 0;
  }

  int pfd = resolve(p, p->n - 1, RESOLVE_CREATE);
  if (pfd < 0) return -1;

  if (is_hardlink) return hard_link(e, p, pfd, base, rel);

  switch (type) {
    case AE_IFDIR: {
      if (mkdirat(pfd, base, 0700) < 0) {
        if (errno != EEXIST) return fail(errno, "mkdir `%s`", rel);
        int kept = clear_target(pfd, base, true);
        if (kept < 0) return -1;
        if (!kept && mkdirat(pfd, base, 0700) < 0) return fail(errno, "mkdir `%s`", rel);
      }
      return apply_meta(pfd, base, -1, e, rel, true);
    }
    case AE_IFREG:
      return create_file(a, e, pfd, base, rel);
    case AE_IFLNK: {
      const char *target = archive_entry_symlink(e);
      if (!target || !*target) return refuse("refusing layer entry %s: symlink without target", quoted(cur_entry));
      if (target[0] != '/' && climbs_out(p, target))
        return refuse("refusing layer entry %s: symlink target %s points outside the layer", quoted(cur_entry), quoted(target));
      CREATE_AT(symlinkat(target, pfd, base), "symlink");
      return apply_meta(pfd, base, -1, e, rel, false);
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      CREATE_AT(mknodat(pfd, base, type | (archive_entry_perm(e) & 07777), dev), "mknod");
      return apply_meta(pfd, base, -1, e, rel, false);
    }
    default:
      /* Sockets and unknown types carry nothing to unpack. */
      return 0;
  }
}

static int usage(void) {
  fprintf(stderr, "usage: berth-unpack [--owner|--no-owner] <dest>  (an uncompressed tar on stdin)\n");
  return 64;
}

int main(int argc, char **argv) {
  const char *dest = NULL;
  preserve_owner = geteuid() == 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--owner")) preserve_owner = true;
    else if (!strcmp(argv[i], "--no-owner")) preserve_owner = false;
    else if (argv[i][0] == '-' || dest) return usage();
    else dest = argv[i];
  }
  if (!dest) return usage();
  /* Pax names are UTF-8: keep them byte-exact instead of converting to an ASCII locale. */
  setlocale(LC_CTYPE, "C.UTF-8");
  umask(0);
  /* A larger pipe means fewer wakeups between the feeding process and this one. */
  (void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, 1 << 20);

  uint64_t entries = 0;
  int rc = 0;
  struct archive *a = archive_read_new();
  if (!a) {
    rc = fail(ENOMEM, "archive_read_new");
    goto done;
  }
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  root_fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0) {
    rc = fail(errno, "open `%s`", dest);
    goto done;
  }
  if (archive_read_open_fd(a, STDIN_FILENO, 1 << 20) != ARCHIVE_OK) {
    rc = fail(archive_errno(a) > 0 ? archive_errno(a) : 0, "read tar: %s", archive_error_string(a) ?: "error");
    goto done;
  }
  struct archive_entry *e;
  for (;;) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      rc = fail(archive_errno(a) > 0 ? archive_errno(a) : 0, "read tar header: %s", archive_error_string(a) ?: "error");
      goto done;
    }
    entries++;
    cur_entry = archive_entry_pathname(e);
    if (!cur_entry) cur_entry = "";
    struct parts p = {0};
    err.msg[0] = 0;
    rc = split(cur_entry, "path", &p);
    if (rc == 0) rc = do_entry(a, e, &p);
    parts_free(&p);
    if (rc < 0) goto done;
  }
  cur_entry = "";
  rc = apply_dir_times();
  if (rc < 0) goto done;
  /* Whatever follows the end-of-archive blocks is read too: the writer hashes every byte. */
  {
    static char sink[1 << 16];
    ssize_t n;
    while ((n = read(STDIN_FILENO, sink, sizeof sink)) != 0) {
      if (n < 0 && errno != EINTR) {
        rc = fail(errno, "read stdin");
        goto done;
      }
    }
  }

done:
  if (a) archive_read_free(a);
  if (rc < 0) {
    fputs("{\"error\": \"", stderr);
    if (err.refused) {
      json_str(stderr, err.msg);
    } else {
      char m[9000];
      if (*cur_entry) snprintf(m, sizeof m, "failed to unpack layer at entry %s: %s", quoted(cur_entry), err.msg);
      else snprintf(m, sizeof m, "failed to unpack layer: %s", err.msg);
      json_str(stderr, m);
    }
    fprintf(stderr, "\", \"refused\": %s, \"entry\": \"", err.refused ? "true" : "false");
    json_str(stderr, cur_entry);
    fputs("\"}\n", stderr);
    return err.refused ? 2 : 1;
  }
  printf("{\"entries\": %llu, \"bytes\": %llu}\n", (unsigned long long)entries, (unsigned long long)bytes_written);
  return 0;
}
