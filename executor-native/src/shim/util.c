#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "shim.h"

/* Diagnostics go to fd 2, which is <state-dir>/shim.log once daemonized. */
void diag(const char *fmt, ...) {
  char buf[1024];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  size_t n = fmt_time(buf, sizeof buf, &ts);
  n += (size_t)snprintf(buf + n, sizeof buf - n, " berth-shim[%d] ", (int)getpid());
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) m = 0;
  n += (size_t)m;
  if (n > sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  (void)!write(2, buf, n);
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Readers (a restarted executor) see the old file or the whole new one, never a torn one. No fsync:
 * these files matter to an executor restarting on a running host; after a host crash the shim and its
 * container are gone whatever the files say (two fsyncs cost ms on the spawn and exit paths). */
int write_file_atomic(const char *name, const char *data, size_t len) {
  char tmp[256];
  snprintf(tmp, sizeof tmp, ".%s.tmp", name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    diag("open `%s`: %s", tmp, strerror(errno));
    return -1;
  }
  if (write_all(fd, data, len) < 0) {
    diag("write `%s`: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    return -1;
  }
  close(fd);
  if (rename(tmp, name) < 0) {
    diag("rename `%s` to `%s`: %s", tmp, name, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Go's time.RFC3339Nano in UTC: fraction with trailing zeros removed, no dot if zero. */
size_t fmt_time(char *out, size_t cap, const struct timespec *ts) {
  struct tm tm;
  time_t sec = ts->tv_sec;
  gmtime_r(&sec, &tm);
  char frac[16] = "";
  long ns = ts->tv_nsec;
  if (ns > 0) {
    char digits[24];
    snprintf(digits, sizeof digits, "%09ld", ns);
    int n = 9;
    while (n > 0 && digits[n - 1] == '0') n--;
    frac[0] = '.';
    memcpy(frac + 1, digits, (size_t)n);
    frac[n + 1] = 0;
  }
  int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  if (n < 0) return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Requests are flat JSON objects written by our own clients; this finds `"key":` and its value. */
static const char *json_find(const char *js, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = js; (p = strchr(p, '"')) != NULL; p++) {
    if (strncmp(p + 1, key, kl) == 0 && p[kl + 1] == '"') {
      const char *q = p + kl + 2;
      while (*q == ' ' || *q == '\t') q++;
      if (*q != ':') continue;
      q++;
      while (*q == ' ' || *q == '\t') q++;
      return q;
    }
  }
  return NULL;
}

int json_get_str(const char *js, const char *key, char *out, size_t cap) {
  const char *v = json_find(js, key);
  if (!v || *v != '"' || cap == 0) return -1;
  v++;
  size_t n = 0;
  while (*v && *v != '"') {
    char c = *v++;
    if (c == '\\' && *v) {
      c = *v++;
      if (c == 'n') c = '\n';
      else if (c == 't') c = '\t';
      else if (c == 'u') { /* only \u00XX is produced for short strings we need */
        if (strlen(v) < 4) return -1;
        char hex[5] = {v[0], v[1], v[2], v[3], 0};
        c = (char)strtol(hex, NULL, 16);
        v += 4;
      }
    }
    if (n + 1 < cap) out[n++] = c;
  }
  if (*v != '"') return -1;
  out[n] = 0;
  return 0;
}

int json_get_int(const char *js, const char *key, long long *out) {
  const char *v = json_find(js, key);
  if (!v) return -1;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (end == v || errno) return -1;
  *out = x;
  return 0;
}

int json_get_bool(const char *js, const char *key, int *out) {
  const char *v = json_find(js, key);
  if (!v) return -1;
  if (strncmp(v, "true", 4) == 0) *out = 1;
  else if (strncmp(v, "false", 5) == 0) *out = 0;
  else return -1;
  return 0;
}

size_t json_escape(char *out, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s && n + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[n++] = '\\';
      out[n++] = (char)c;
    } else if (c < 0x20) {
      n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
    } else {
      out[n++] = (char)c;
    }
  }
  out[n] = 0;
  return n;
}

static const struct { const char *name; int sig; } signames[] = {
  {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"TRAP", SIGTRAP},
  {"ABRT", SIGABRT}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
  {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
  {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
  {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU},
  {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
  {"IO", SIGIO}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
};

/* "TERM", "SIGTERM", "15"; -1 if unknown. */
int signal_from_name(const char *name) {
  char *end;
  long n = strtol(name, &end, 10);
  if (*name && *end == 0) return n > 0 && n < 65 ? (int)n : -1;
  if (strncasecmp(name, "SIG", 3) == 0) name += 3;
  for (size_t i = 0; i < sizeof signames / sizeof signames[0]; i++)
    if (strcasecmp(name, signames[i].name) == 0) return signames[i].sig;
  return -1;
}

void deadline_in(struct timespec *d, int ms) {
  clock_gettime(CLOCK_MONOTONIC, d);
  d->tv_nsec += (long)(ms % 1000) * 1000000L;
  d->tv_sec += ms / 1000 + d->tv_nsec / 1000000000L;
  d->tv_nsec %= 1000000000L;
}

int64_t ms_until(const struct timespec *d) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t ms = (int64_t)(d->tv_sec - now.tv_sec) * 1000 + (d->tv_nsec - now.tv_nsec) / 1000000;
  return ms < 0 ? 0 : ms;
}

void ep_add(int fd, uint32_t events, enum tag tag, uint32_t idx) {
  struct epoll_event ev = {.events = events, .data.u64 = ((uint64_t)tag << 32) | idx};
  if (epoll_ctl(S.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) diag("epoll_ctl add %d: %s", fd, strerror(errno));
}

void ep_mod(int fd, uint32_t events, enum tag tag, uint32_t idx) {
  struct epoll_event ev = {.events = events, .data.u64 = ((uint64_t)tag << 32) | idx};
  if (epoll_ctl(S.epfd, EPOLL_CTL_MOD, fd, &ev) < 0) diag("epoll_ctl mod %d: %s", fd, strerror(errno));
}

void ep_del(int fd) { epoll_ctl(S.epfd, EPOLL_CTL_DEL, fd, NULL); }
