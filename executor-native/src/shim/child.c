/* Container stdio and the child process.
 *
 * The child is `berth-init run <bundle>` (or `berth-init exec <pid> <spec>`), or with
 * --exec-direct a stand-in forked here that speaks the same sync protocol
 * (executor-native/PROTOCOL.md) so the shim has one code path:
 *
 *  shim                                   child (fd 3 = socketpair end)
 *  ────                                   ─────
 *  socketpair, fork, exec ─────────────▶
 *       ◀── {"type":"pid","pid":N}        (berth-init: host pid of container PID 1)
 *       ◀── {"type":"ready"}              → executor gets {"shimPid","pid"} on its fd 3
 *  control "start" ── 'G' ─────────────▶  execve
 *       ◀── EOF                           exec succeeded → status running, start replies ok
 *       ◀── {"type":"error",…}            any stage; before ready it goes to the executor,
 *                                         after 'G' it is the start reply
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"

static int cfd[3] = {-1, -1, -1}; /* the child's 0,1,2 */

static int devnull(int flags) { return open("/dev/null", flags | O_CLOEXEC); }

int child_setup_stdio(void) {
  if (S.o.tty) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
      diag("open pty master: %s", strerror(errno));
      return -1;
    }
    char name[64];
    if (ptsname_r(m, name, sizeof name) != 0) {
      diag("ptsname: %s", strerror(errno));
      return -1;
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
      diag("open `%s`: %s", name, strerror(errno));
      return -1;
    }
    S.out_fd[1] = m;
    S.stdin_fd = S.o.open_stdin ? m : -1;
    cfd[0] = s;
    cfd[1] = dup(s);
    cfd[2] = dup(s);
    if (cfd[1] < 0 || cfd[2] < 0) return -1;
    fcntl(cfd[1], F_SETFD, FD_CLOEXEC);
    fcntl(cfd[2], F_SETFD, FD_CLOEXEC);
    ep_add(m, EPOLLIN, TAG_OUT, 1);
    return 0;
  }
  int p[2];
  for (int s = 1; s <= 2; s++) {
    if (pipe2(p, O_CLOEXEC) < 0) {
      diag("pipe: %s", strerror(errno));
      return -1;
    }
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    S.out_fd[s] = p[0];
    cfd[s] = p[1];
    ep_add(p[0], EPOLLIN, TAG_OUT, (uint32_t)s);
  }
  if (S.o.open_stdin) {
    if (pipe2(p, O_CLOEXEC) < 0) {
      diag("pipe: %s", strerror(errno));
      return -1;
    }
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    cfd[0] = p[0];
    S.stdin_fd = p[1];
    ep_add(p[1], 0, TAG_STDIN, 0); /* EPOLLOUT only while stdin_buf holds data */
  } else {
    cfd[0] = devnull(O_RDONLY);
    if (cfd[0] < 0) return -1;
  }
  return 0;
}

static void send_msg(int fd, const char *msg) { (void)!write(fd, msg, strlen(msg)); }

static void send_error(int fd, const char *stage, const char *syscall, const char *object, int err,
                       const char *message) {
  char o[512], m[1024], buf[2048];
  json_escape(o, sizeof o, object);
  json_escape(m, sizeof m, message);
  snprintf(buf, sizeof buf,
           "{\"type\":\"error\",\"stage\":\"%s\",\"syscall\":\"%s\",\"object\":\"%s\",\"errno\":%d,"
           "\"message\":\"%s\"}\n",
           stage, syscall, o, err, m);
  send_msg(fd, buf);
}

/* --exec-direct: what berth-init does minus the namespaces. fd 3 is the sync socket. */
static void __attribute__((noreturn)) stand_in(void) {
  char buf[128];
  setsid();
  if (S.o.tty) ioctl(0, TIOCSCTTY, 0);
  snprintf(buf, sizeof buf, "{\"type\":\"pid\",\"pid\":%d}\n{\"type\":\"ready\"}\n", (int)getpid());
  send_msg(3, buf);
  char go = 0;
  ssize_t r;
  do r = read(3, &go, 1);
  while (r < 0 && errno == EINTR);
  if (r != 1 || go != 'G') _exit(125);
  fcntl(3, F_SETFD, FD_CLOEXEC);
  execvp(S.o.direct_argv[0], S.o.direct_argv);
  int e = errno;
  char msg[512];
  if (e == ENOENT)
    snprintf(msg, sizeof msg, "exec: \"%s\": executable file not found in $PATH", S.o.direct_argv[0]);
  else if (e == EACCES)
    snprintf(msg, sizeof msg, "exec: \"%s\": permission denied", S.o.direct_argv[0]);
  else
    snprintf(msg, sizeof msg, "exec: \"%s\": %s", S.o.direct_argv[0], strerror(e));
  send_error(3, "exec", "execve", S.o.direct_argv[0], e, msg);
  _exit(e == ENOENT ? 127 : 126);
}

int child_spawn(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    diag("socketpair: %s", strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    diag("fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    /* Ignored dispositions and the blocked mask survive execve: undo the shim's. */
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    for (int i = 0; i < 3; i++)
      if (dup2(cfd[i], i) < 0) _exit(125);
    if (dup2(sv[1], 3) < 0) _exit(125);
    fcntl(3, F_SETFD, 0);
    if (S.o.direct_argv) stand_in();
    setenv("BERTH_SYNC_FD", "3", 1);
    const char *argv[5] = {"berth-init", "run", S.o.bundle, NULL, NULL};
    if (S.o.exec_pid) {
      argv[1] = "exec";
      argv[2] = S.o.exec_pid;
      argv[3] = S.o.exec_spec;
    }
    execv(S.o.init_path, (char *const *)argv);
    int e = errno;
    char msg[1024];
    snprintf(msg, sizeof msg, "exec `%s`: %s", S.o.init_path, strerror(e));
    send_error(3, "shim", "execve", S.o.init_path, e, msg);
    _exit(125);
  }
  close(sv[1]);
  for (int i = 0; i < 3; i++) {
    close(cfd[i]);
    cfd[i] = -1;
  }
  S.init_pid = pid;
  if (S.o.direct_argv) S.pid = pid;
  S.sync_child = sv[0];
  fcntl(sv[0], F_SETFL, O_NONBLOCK);
  ep_add(sv[0], EPOLLIN, TAG_SYNC, 0);
  return 0;
}

void child_report_error(const struct init_error *e) {
  if (S.sync_out < 0) return;
  char o[1100], m[2100], buf[4096];
  json_escape(o, sizeof o, e->object);
  json_escape(m, sizeof m, e->message);
  int n = snprintf(buf, sizeof buf,
                   "{\"error\":{\"stage\":\"%s\",\"syscall\":\"%s\",\"object\":\"%s\",\"errno\":%d,"
                   "\"message\":\"%s\"}}\n",
                   e->stage, e->syscall, o, e->err, m);
  if (n > 0) write_all(S.sync_out, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
  close(S.sync_out);
  S.sync_out = -1;
}

static void report_ready(void) {
  char buf[128];
  int n = snprintf(buf, sizeof buf, "{\"shimPid\":%d,\"pid\":%d}\n", (int)getpid(), (int)S.pid);
  write_file_atomic("shim.json", buf, (size_t)n);
  if (S.sync_out >= 0) {
    write_all(S.sync_out, buf, (size_t)n);
    close(S.sync_out);
    S.sync_out = -1;
  }
}

/* A create-time failure: tell the executor, kill what was started, and leave. */
void child_fail_create(void) {
  child_report_error(&S.err);
  if (S.pid > 0) kill(S.pid, SIGKILL);
  diag("create failed: %s", S.err.message);
  S.status = ST_EXITED;
  S.shutdown_requested = 2; /* exit without an exit.json: nothing ran */
}

static void handle_line(char *l) {
  char type[32];
  if (json_get_str(l, "type", type, sizeof type) < 0) {
    diag("sync: unexpected message `%s`", l);
    return;
  }
  if (strcmp(type, "pid") == 0) {
    long long pid;
    if (json_get_int(l, "pid", &pid) == 0 && pid > 0) S.pid = (pid_t)pid;
  } else if (strcmp(type, "ready") == 0) {
    if (S.status == ST_CREATING) {
      S.status = ST_CREATED;
      report_ready();
    }
  } else if (strcmp(type, "error") == 0) {
    struct init_error *e = &S.err;
    memset(e, 0, sizeof *e);
    long long en = 0;
    json_get_str(l, "stage", e->stage, sizeof e->stage);
    json_get_str(l, "syscall", e->syscall, sizeof e->syscall);
    json_get_str(l, "object", e->object, sizeof e->object);
    json_get_str(l, "message", e->message, sizeof e->message);
    json_get_int(l, "errno", &en);
    e->err = (int)en;
    S.have_err = 1;
    if (S.status == ST_CREATING) child_fail_create();
  } else {
    diag("sync: unexpected message type `%s`", type);
  }
}

void child_on_sync(void) {
  if (S.sync_child < 0) return;
  for (;;) {
    ssize_t r = read(S.sync_child, S.sync_buf + S.sync_len, sizeof S.sync_buf - 1 - S.sync_len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return;
    if (r > 0) {
      S.sync_len += (size_t)r;
      S.sync_buf[S.sync_len] = 0;
      char *nl;
      while ((nl = memchr(S.sync_buf, '\n', S.sync_len)) != NULL) {
        *nl = 0;
        handle_line(S.sync_buf);
        size_t used = (size_t)(nl - S.sync_buf) + 1;
        memmove(S.sync_buf, nl + 1, S.sync_len - used);
        S.sync_len -= used;
      }
      if (S.sync_len == sizeof S.sync_buf - 1) S.sync_len = 0; /* oversized line: drop */
      continue;
    }
    /* EOF (or error): the child exec'd, or died. */
    ep_del(S.sync_child);
    close(S.sync_child);
    S.sync_child = -1;
    if (S.status == ST_CREATING) {
      if (!S.have_err) {
        memset(&S.err, 0, sizeof S.err);
        strcpy(S.err.stage, "sync");
        strcpy(S.err.syscall, "read");
        snprintf(S.err.object, sizeof S.err.object, "%s", S.o.init_path);
        snprintf(S.err.message, sizeof S.err.message, "berth-init exited before the container was ready");
      }
      child_fail_create();
    } else if (S.status == ST_CREATED && S.go_sent) {
      if (!S.have_err) {
        S.status = ST_RUNNING;
        clock_gettime(CLOCK_REALTIME, &S.started_at);
      }
      control_start_result();
    }
    return;
  }
}

int child_send_go(void) {
  if (S.sync_child < 0 || write(S.sync_child, "G", 1) != 1) return -1;
  return 0;
}
