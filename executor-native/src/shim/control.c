/* Control socket `<state-dir>/control.sock`: one JSON object per line each way.
 *   → {"op":"state"}                     ← {"ok":true,"status":"created|running|exited",…}
 *   → {"op":"start"}                     ← {"ok":true,"pid":N,"startedAt":…} once execve succeeded,
 *                                          or {"ok":false,"error":…,"stage":…,"errno":…}
 *   → {"op":"signal","signal":"TERM"|15} ← {"ok":true}
 *   → {"op":"resize","h":24,"w":80}      ← {"ok":true}            (TTY only)
 *   → {"op":"close-stdin"}               ← {"ok":true}
 *   → {"op":"subscribe"}                 ← {"ok":true} then, once, {"event":"exit",…}
 *   → {"op":"shutdown"}                  ← {"ok":true}; the shim exits once the exit is recorded
 * Errors: {"ok":false,"code":"<code>","error":"<message>"}. Replies are small; a client
 * whose socket buffer is full is dropped. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"

/* fd is stored +1 so the zeroed array means "all closed": initialising a field in each of
 * 64 structs would touch every page of the array and cost RSS. */
struct ctl {
  int fd1;
  int subscribed;
  size_t in_len;
  char in[1024];
};
static struct ctl ctls[SHIM_MAX_CTL];
#define CFD(c) ((c)->fd1 - 1)

int listen_unix(const char *name) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", name);
  unlink(name);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(name, 0600) < 0 || listen(fd, 16) < 0) {
    diag("listen `%s`: %s", name, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int control_listen(void) {
  S.ctl_listen = listen_unix("control.sock");
  if (S.ctl_listen < 0) return -1;
  ep_add(S.ctl_listen, EPOLLIN, TAG_CTL_LISTEN, 0);
  return 0;
}

static void ctl_close(int i) {
  if (CFD(&ctls[i]) < 0) return;
  ep_del(CFD(&ctls[i]));
  close(CFD(&ctls[i]));
  ctls[i].fd1 = 0;
  if (S.start_ctl == i) S.start_ctl = -1;
}

void control_accept(void) {
  for (;;) {
    int fd = accept4(S.ctl_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int i = 0;
    while (i < SHIM_MAX_CTL && CFD(&ctls[i]) >= 0) i++;
    if (i == SHIM_MAX_CTL) {
      static const char busy[] = "{\"ok\":false,\"code\":\"busy\",\"error\":\"too many control clients\"}\n";
      (void)!write(fd, busy, sizeof busy - 1);
      close(fd);
      continue;
    }
    ctls[i].fd1 = fd + 1;
    ctls[i].subscribed = 0;
    ctls[i].in_len = 0;
    ep_add(fd, EPOLLIN | EPOLLRDHUP, TAG_CTL, (uint32_t)i);
  }
}

void control_reply(int i, const char *json) {
  if (i < 0 || CFD(&ctls[i]) < 0) return;
  size_t n = strlen(json);
  ssize_t w = send(CFD(&ctls[i]), json, n, MSG_NOSIGNAL);
  if (w != (ssize_t)n) {
    diag("control client %d: reply not written, dropping it", i);
    ctl_close(i);
  }
}

static void reply_err(int i, const char *code, const char *msg) {
  char m[600], buf[800];
  json_escape(m, sizeof m, msg);
  snprintf(buf, sizeof buf, "{\"ok\":false,\"code\":\"%s\",\"error\":\"%s\"}\n", code, m);
  control_reply(i, buf);
}

static void reply_ok(int i) { control_reply(i, "{\"ok\":true}\n"); }

static size_t exit_event(char *buf, size_t cap) {
  char at[64];
  fmt_time(at, sizeof at, &S.exited_at);
  char sig[16] = "null";
  if (S.exit_signal) snprintf(sig, sizeof sig, "%d", S.exit_signal);
  int n = snprintf(buf, cap, "{\"event\":\"exit\",\"pid\":%d,\"exitCode\":%d,\"signal\":%s,\"exitedAt\":\"%s\",\"oomKilled\":%s}\n",
                   (int)S.pid, S.exit_code, sig, at, S.oom_killed ? "true" : "false");
  return n > 0 ? (size_t)n : 0;
}

void control_notify_exit(void) {
  char buf[256];
  exit_event(buf, sizeof buf);
  for (int i = 0; i < SHIM_MAX_CTL; i++)
    if (CFD(&ctls[i]) >= 0 && ctls[i].subscribed) {
      control_reply(i, buf);
      ctls[i].subscribed = 0;
    }
}

void control_start_result(void) {
  int i = S.start_ctl;
  S.start_ctl = -1;
  if (S.status == ST_RUNNING || (S.status >= ST_DRAINING && !S.have_err)) {
    char buf[160], at[64];
    fmt_time(at, sizeof at, &S.started_at);
    snprintf(buf, sizeof buf, "{\"ok\":true,\"pid\":%d,\"startedAt\":\"%s\"}\n", (int)S.pid, at);
    control_reply(i, buf);
    return;
  }
  if (S.have_err) {
    char o[1100], m[2100], buf[4096];
    json_escape(o, sizeof o, S.err.object);
    json_escape(m, sizeof m, S.err.message);
    snprintf(buf, sizeof buf,
             "{\"ok\":false,\"code\":\"start_failed\",\"error\":\"%s\",\"stage\":\"%s\",\"syscall\":\"%s\","
             "\"object\":\"%s\",\"errno\":%d}\n",
             m, S.err.stage, S.err.syscall, o, S.err.err);
    control_reply(i, buf);
    return;
  }
  reply_err(i, "start_failed", "the container exited before it started");
}

static void handle_request(int i, const char *req) {
  char op[32], sigs[32];
  if (json_get_str(req, "op", op, sizeof op) < 0) {
    reply_err(i, "bad_request", "expected {\"op\":…}");
    return;
  }
  if (strcmp(op, "state") == 0) {
    char buf[512];
    state_json(buf, sizeof buf);
    control_reply(i, buf);
  } else if (strcmp(op, "start") == 0) {
    if (S.status == ST_CREATING) reply_err(i, "not_created", "the container is not created yet");
    else if (S.status >= ST_DRAINING) reply_err(i, "exited", "the container has exited");
    else if (S.status == ST_RUNNING || S.go_sent) reply_err(i, "already_started", "the container is already started");
    else if (child_send_go() < 0) reply_err(i, "start_failed", "berth-init is gone");
    else {
      S.go_sent = 1;
      S.start_ctl = i;
    }
  } else if (strcmp(op, "signal") == 0) {
    long long n;
    int sig = -1;
    if (json_get_int(req, "signal", &n) == 0) sig = (int)n;
    else if (json_get_str(req, "signal", sigs, sizeof sigs) == 0) sig = signal_from_name(sigs);
    if (sig <= 0 || sig > 64) reply_err(i, "bad_request", "invalid signal");
    else if (S.pid <= 0 || S.status >= ST_DRAINING) reply_err(i, "not_running", "the container is not running");
    else if (kill(S.pid, sig) < 0) reply_err(i, "kill_failed", strerror(errno));
    else reply_ok(i);
  } else if (strcmp(op, "resize") == 0) {
    long long h, w;
    if (!S.o.tty) reply_err(i, "no_tty", "the container has no TTY");
    else if (json_get_int(req, "h", &h) < 0 || json_get_int(req, "w", &w) < 0 || h < 0 || w < 0 ||
             h > 65535 || w > 65535)
      reply_err(i, "bad_request", "resize needs h and w");
    else if (S.out_fd[1] < 0) reply_err(i, "exited", "the container has exited");
    else {
      struct winsize ws = {.ws_row = (unsigned short)h, .ws_col = (unsigned short)w};
      if (ioctl(S.out_fd[1], TIOCSWINSZ, &ws) < 0) reply_err(i, "resize_failed", strerror(errno));
      else reply_ok(i);
    }
  } else if (strcmp(op, "close-stdin") == 0) {
    stdin_close();
    reply_ok(i);
  } else if (strcmp(op, "subscribe") == 0) {
    reply_ok(i);
    if (CFD(&ctls[i]) < 0) return;
    if (S.status == ST_EXITED) {
      char buf[256];
      exit_event(buf, sizeof buf);
      control_reply(i, buf);
    } else {
      ctls[i].subscribed = 1;
    }
  } else if (strcmp(op, "shutdown") == 0) {
    reply_ok(i);
    if (!S.shutdown_requested) S.shutdown_requested = 1;
  } else {
    reply_err(i, "bad_request", "unknown op");
  }
}

void control_event(uint32_t i, uint32_t events) {
  struct ctl *c = &ctls[i];
  if (CFD(c) < 0) return;
  if (events & EPOLLIN) {
    ssize_t r = read(CFD(c), c->in + c->in_len, sizeof c->in - 1 - c->in_len);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r == 0 && (c->subscribed || S.start_ctl == (int)i)) {
      ep_mod(CFD(c), 0, TAG_CTL, i); /* half-closed, still owed the exit event or start result */
      return;
    }
    if (r <= 0) {
      ctl_close((int)i);
      return;
    }
    c->in_len += (size_t)r;
    c->in[c->in_len] = 0;
    char *nl;
    while (CFD(c) >= 0 && (nl = memchr(c->in, '\n', c->in_len)) != NULL) {
      *nl = 0;
      handle_request((int)i, c->in);
      if (CFD(c) < 0) return;
      size_t used = (size_t)(nl - c->in) + 1;
      memmove(c->in, nl + 1, c->in_len - used);
      c->in_len -= used;
      c->in[c->in_len] = 0;
    }
    if (c->in_len == sizeof c->in - 1) {
      reply_err((int)i, "bad_request", "request too long");
      ctl_close((int)i);
    }
    return;
  }
  if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) ctl_close((int)i);
}

void control_close_all(void) {
  for (int i = 0; i < SHIM_MAX_CTL; i++) ctl_close(i);
}
