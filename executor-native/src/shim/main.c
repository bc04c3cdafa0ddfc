/* berth-shim: one per container. It outlives the executor (double fork, setsid),
 * is the child subreaper of the container, owns its stdio, writes the json-file
 * log, serves control.sock and attach.sock, and records the exit in exit.json.
 *
 * Lifecycle:
 *   creating ──ready──▶ created ──start/'G'+EOF──▶ running ──SIGCHLD(pid)──▶ draining
 *   draining ──(EOF on every output fd, or no output for SHIM_DRAIN_MS while no attach
 *              client holds it back, or SHIM_DRAIN_MAX_MS)──▶ exited:
 *       flush the log, write exit.json (atomic), push exit to subscribers, close attach
 *   exited ──shutdown──▶ remove the sockets, exit 0 (exit.json stays for the executor)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"

struct shim S;

static void usage_error(const char *msg) {
  fprintf(stderr, "berth-shim: %s\n", msg);
  fprintf(stderr,
          "usage: berth-shim --id <id> --state-dir <dir> --bundle <dir> [--tty] [--stdin] [--stdin-once]\n"
          "                  --log <path> [--log-max-size <bytes>] [--log-max-file <n>]\n"
          "                  [--init-path <berth-init>] [--init-exec <container-pid> <exec.json>]\n"
          "                  [--cgroup <path relative to the hierarchy roots>]\n"
          "                  [--exec-direct -- argv...]\n");
  if (S.sync_out >= 0) {
    char m[600], buf[800];
    json_escape(m, sizeof m, msg);
    int n = snprintf(buf, sizeof buf,
                     "{\"error\":{\"stage\":\"shim\",\"syscall\":\"\",\"object\":\"argv\",\"errno\":22,\"message\":\"%s\"}}\n", m);
    if (n > 0) write_all(S.sync_out, buf, (size_t)n);
  }
  exit(2);
}

/* Report a setup failure of the shim itself to the executor and leave. */
static void __attribute__((noreturn)) fatal(const char *syscall, const char *object) {
  int e = errno;
  struct init_error err = {.err = e};
  snprintf(err.stage, sizeof err.stage, "shim");
  snprintf(err.syscall, sizeof err.syscall, "%s", syscall);
  snprintf(err.object, sizeof err.object, "%s", object);
  snprintf(err.message, sizeof err.message, "%s `%s`: %s", syscall, object, strerror(e));
  diag("%s", err.message);
  child_report_error(&err);
  exit(1);
}

static char *absolute(const char *p) {
  if (!p || p[0] == '/') return (char *)p;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return (char *)p;
  size_t n = strlen(cwd) + strlen(p) + 2;
  char *r = malloc(n);
  if (!r) return (char *)p;
  snprintf(r, n, "%s/%s", cwd, p);
  return r;
}

static void parse_args(int argc, char **argv) {
  enum { OPT_ID = 1, OPT_STATE, OPT_BUNDLE, OPT_TTY, OPT_STDIN, OPT_ONCE, OPT_LOG, OPT_MAXSZ, OPT_MAXF, OPT_INIT, OPT_IEXEC, OPT_DIRECT, OPT_CGROUP };
  static const struct option opts[] = {
    {"id", 1, 0, OPT_ID}, {"state-dir", 1, 0, OPT_STATE}, {"bundle", 1, 0, OPT_BUNDLE},
    {"tty", 0, 0, OPT_TTY}, {"stdin", 0, 0, OPT_STDIN}, {"stdin-once", 0, 0, OPT_ONCE},
    {"log", 1, 0, OPT_LOG}, {"log-max-size", 1, 0, OPT_MAXSZ}, {"log-max-file", 1, 0, OPT_MAXF},
    {"init-path", 1, 0, OPT_INIT}, {"init-exec", 1, 0, OPT_IEXEC}, {"exec-direct", 0, 0, OPT_DIRECT}, {"cgroup", 1, 0, OPT_CGROUP},
    {0, 0, 0, 0},
  };
  S.o.log_max_size = -1;
  S.o.log_max_file = 1;
  int direct = 0, c;
  char *end;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
    switch (c) {
    case OPT_ID: S.o.id = optarg; break;
    case OPT_STATE: S.o.state_dir = optarg; break;
    case OPT_BUNDLE: S.o.bundle = optarg; break;
    case OPT_TTY: S.o.tty = 1; break;
    case OPT_STDIN: S.o.open_stdin = 1; break;
    case OPT_ONCE: S.o.stdin_once = 1; break;
    case OPT_LOG: S.o.log_path = optarg; break;
    case OPT_MAXSZ:
      S.o.log_max_size = strtoll(optarg, &end, 10);
      if (*end || end == optarg) usage_error("--log-max-size: not a number");
      if (S.o.log_max_size <= 0) S.o.log_max_size = -1;
      break;
    case OPT_MAXF:
      S.o.log_max_file = (int)strtol(optarg, &end, 10);
      if (*end || end == optarg || S.o.log_max_file < 1 || S.o.log_max_file > 1000)
        usage_error("--log-max-file: expected 1..1000");
      break;
    case OPT_INIT: S.o.init_path = optarg; break;
    case OPT_IEXEC:
      if (optind >= argc) usage_error("--init-exec needs <container-pid> <exec.json>");
      S.o.exec_pid = optarg;
      S.o.exec_spec = argv[optind++];
      break;
    case OPT_DIRECT: direct = 1; break;
    case OPT_CGROUP: S.o.cgroup = optarg; break;
    default: usage_error("unknown option");
    }
  }
  if (direct) {
    if (optind >= argc) usage_error("--exec-direct needs -- argv");
    S.o.direct_argv = argv + optind;
  } else if (optind < argc) {
    usage_error("unexpected argument");
  }
  if (!S.o.id || !S.o.state_dir || !S.o.log_path) usage_error("--id, --state-dir and --log are required");
  if (!direct && !S.o.exec_pid && !S.o.bundle) usage_error("--bundle is required");
  if (S.o.stdin_once && !S.o.open_stdin) S.o.stdin_once = 0;
  S.o.state_dir = absolute(S.o.state_dir);
  S.o.log_path = absolute(S.o.log_path);
  S.o.bundle = absolute(S.o.bundle);
  S.o.exec_spec = absolute(S.o.exec_spec);
  if (!S.o.init_path) {
    static char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 16);
    if (n > 0) {
      self[n] = 0;
      char *slash = strrchr(self, '/');
      strcpy(slash ? slash + 1 : self, "berth-init");
      S.o.init_path = self;
    } else {
      S.o.init_path = "berth-init";
    }
  }
  S.o.init_path = absolute(S.o.init_path);
}

/* The executor may die at any time: detach from its session and process tree. Spawned by the
 * executor we lead no process group, so setsid works at once and one fork is enough (a fork costs
 * ~0.3 ms on a run's critical path); a process group leader forks first. */
static void daemonize(void) {
  pid_t p;
  if (setsid() < 0) {
    if (errno != EPERM) fatal("setsid", "shim");
    p = fork();
    if (p < 0) fatal("fork", "shim");
    if (p > 0) {
      int st;
      while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
      _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
    }
    if (setsid() < 0) fatal("setsid", "shim");
  }
  p = fork();
  if (p < 0) fatal("fork", "shim");
  if (p > 0) _exit(0);
}

size_t state_json(char *out, size_t cap) {
  static const char *names[] = {"creating", "created", "running", "running", "exited"};
  char started[64] = "null", exited[64] = "null", code[16] = "null", sig[16] = "null";
  if (S.started_at.tv_sec) {
    started[0] = '"';
    size_t n = fmt_time(started + 1, sizeof started - 2, &S.started_at);
    started[n + 1] = '"';
    started[n + 2] = 0;
  }
  if (S.status == ST_EXITED) {
    exited[0] = '"';
    size_t n = fmt_time(exited + 1, sizeof exited - 2, &S.exited_at);
    exited[n + 1] = '"';
    exited[n + 2] = 0;
    snprintf(code, sizeof code, "%d", S.exit_code);
    if (S.exit_signal) snprintf(sig, sizeof sig, "%d", S.exit_signal);
  }
  int n = snprintf(out, cap,
                   "{\"ok\":true,\"id\":\"%s\",\"status\":\"%s\",\"pid\":%d,\"shimPid\":%d,\"tty\":%s,"
                   "\"startedAt\":%s,\"exitCode\":%s,\"signal\":%s,\"exitedAt\":%s,\"oomKilled\":%s}\n",
                   S.o.id, names[S.status], (int)S.pid, (int)getpid(), S.o.tty ? "true" : "false",
                   started, code, sig, exited, S.oom_killed ? "true" : "false");
  return n > 0 ? (size_t)n : 0;
}

/* ---- stdin ---- */

static void stdin_events(void) {
  uint32_t out = S.stdin_len ? EPOLLOUT : 0;
  if (S.stdin_fd < 0 || (S.o.tty && S.stalled)) return; /* the master is out of epoll while stalled */
  if (S.o.tty) ep_mod(S.stdin_fd, EPOLLIN | out, TAG_OUT, 1);
  else ep_mod(S.stdin_fd, out, TAG_STDIN, 0);
}

static void stdin_really_close(void) {
  S.stdin_close_pending = 0;
  S.stdin_len = 0;
  if (S.stdin_fd < 0) return;
  if (S.o.tty) {
    /* The master is also the output: closing it would hang up the terminal. Send VEOF. */
    struct termios t;
    char eof = 4;
    if (tcgetattr(S.stdin_fd, &t) == 0 && t.c_cc[VEOF]) eof = (char)t.c_cc[VEOF];
    (void)!write(S.stdin_fd, &eof, 1);
    ep_mod(S.stdin_fd, EPOLLIN, TAG_OUT, 1);
  } else {
    ep_del(S.stdin_fd);
    close(S.stdin_fd);
  }
  S.stdin_fd = -1;
  S.stdin_blocked = 0;
  attach_stdin_changed();
}

void stdin_close(void) {
  if (S.stdin_len) S.stdin_close_pending = 1;
  else stdin_really_close();
}

void stdin_flush(void) {
  while (S.stdin_len && S.stdin_fd >= 0) {
    ssize_t w = write(S.stdin_fd, S.stdin_buf, S.stdin_len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    if (w < 0) { /* EPIPE: nobody reads the container's stdin any more */
      stdin_really_close();
      return;
    }
    memmove(S.stdin_buf, S.stdin_buf + w, S.stdin_len - (size_t)w);
    S.stdin_len -= (size_t)w;
  }
  if (S.stdin_fd < 0) return;
  if (!S.stdin_len && S.stdin_close_pending) {
    stdin_really_close();
    return;
  }
  int blocked = S.stdin_len == sizeof S.stdin_buf;
  if (blocked != S.stdin_blocked) {
    S.stdin_blocked = blocked;
    attach_stdin_changed();
  }
  stdin_events();
}

/* ---- output ---- */

static void out_close(int s) {
  if (S.out_fd[s] < 0) return;
  jsonlog_flush_partial(s);
  if (S.stdin_fd == S.out_fd[s]) S.stdin_fd = -1;
  ep_del(S.out_fd[s]);
  close(S.out_fd[s]);
  S.out_fd[s] = -1;
}

/* Output back-pressure. Reading stops while some attach client's queue could not take one
 * more read: the container then blocks on its pipe/pty like under Docker, where attach is
 * lossless. A client that makes no progress for SHIM_STALL_MS is dropped and reading resumes,
 * so a dead or stuck client holds the container at most that long. */
static void output_stall(void) {
  if (S.stalled) return;
  S.stalled = 1;
  deadline_in(&S.stall_deadline, SHIM_STALL_MS);
  for (int s = 1; s <= 2; s++)
    if (S.out_fd[s] >= 0) ep_del(S.out_fd[s]);
}

void output_resume(void) {
  if (!S.stalled) return;
  S.stalled = 0;
  for (int s = 1; s <= 2; s++) {
    if (S.out_fd[s] < 0) continue;
    uint32_t ev = EPOLLIN;
    if (S.o.tty && S.stdin_fd == S.out_fd[s] && S.stdin_len) ev |= EPOLLOUT;
    ep_add(S.out_fd[s], ev, TAG_OUT, (uint32_t)s);
  }
}

/* Returns 1 when the fd reached EOF (or EIO: a pty whose slave is closed everywhere).
 * force: read regardless of attach clients' room (the exit is being recorded). */
static int out_read(int s, int rounds, int force) {
  static char buf[SHIM_READ_MAX];
  while (rounds-- > 0 && S.out_fd[s] >= 0) {
    if (!force && !attach_has_room()) {
      output_stall();
      return 0;
    }
    ssize_t r = read(S.out_fd[s], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return 0;
    if (r <= 0) {
      out_close(s);
      return 1;
    }
    if (S.status == ST_DRAINING) deadline_in(&S.drain_deadline, SHIM_DRAIN_MS);
    jsonlog_feed(s, buf, (size_t)r);
    attach_broadcast(s, buf, (size_t)r);
  }
  return 0;
}

void out_event(int s, uint32_t events) {
  if ((events & EPOLLOUT) && S.o.tty) stdin_flush();
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) out_read(s, 4, 0);
}

/* ---- exit ---- */

/* Read once at exit, not polled: the kernel counts OOM kills per memory cgroup
 * (v2 memory.events, v1 memory.oom_control, both "oom_kill N"). */
static int cgroup_oom_killed(void) {
  if (!S.o.cgroup) return 0;
  static const char *files[] = {"/sys/fs/cgroup/%s/memory.events", "/sys/fs/cgroup/memory/%s/memory.oom_control"};
  for (size_t i = 0; i < 2; i++) {
    char path[512], buf[512];
    snprintf(path, sizeof path, files[i], S.o.cgroup);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    char *p = strstr(buf, "oom_kill ");
    return p && atol(p + 9) > 0;
  }
  return 0;
}

static void finalize_exit(void) {
  output_resume();
  for (int s = 1; s <= 2; s++) {
    out_read(s, 1024, 1); /* what is still buffered, up to EAGAIN */
    out_close(s);
  }
  if (S.stdin_fd >= 0 && !S.o.tty) {
    ep_del(S.stdin_fd);
    close(S.stdin_fd);
  }
  S.stdin_fd = -1;
  S.oom_killed = cgroup_oom_killed();
  S.status = ST_EXITED;
  char buf[256], at[64];
  fmt_time(at, sizeof at, &S.exited_at);
  char sig[16] = "null";
  if (S.exit_signal) snprintf(sig, sizeof sig, "%d", S.exit_signal);
  int n = snprintf(buf, sizeof buf, "{\"pid\":%d,\"exitCode\":%d,\"signal\":%s,\"exitedAt\":\"%s\",\"oomKilled\":%s}\n",
                   (int)S.pid, S.exit_code, sig, at, S.oom_killed ? "true" : "false");
  write_file_atomic("exit.json", buf, (size_t)n);
  diag("container %d exited: code %d", (int)S.pid, S.exit_code);
  if (S.start_ctl >= 0) control_start_result();
  control_notify_exit();
  attach_container_exited();
}

static void on_sigchld(void) {
  struct signalfd_siginfo si;
  while (read(S.sigfd, &si, sizeof si) == sizeof si) {}
  child_on_sync(); /* the pid message precedes any exit of that pid */
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) break;
    if (p != S.pid || S.pid <= 0 || S.status >= ST_DRAINING) continue; /* berth-init, or an orphan */
    if (S.status == ST_CREATING) { /* died during setup without an error message */
      memset(&S.err, 0, sizeof S.err);
      snprintf(S.err.stage, sizeof S.err.stage, "sync");
      snprintf(S.err.syscall, sizeof S.err.syscall, "wait4");
      snprintf(S.err.object, sizeof S.err.object, "%d", (int)p);
      snprintf(S.err.message, sizeof S.err.message, "the container process exited during setup (status 0x%x)", st);
      child_fail_create();
      return;
    }
    clock_gettime(CLOCK_REALTIME, &S.exited_at);
    if (WIFSIGNALED(st)) {
      S.exit_signal = WTERMSIG(st);
      S.exit_code = 128 + S.exit_signal;
    } else {
      S.exit_code = WEXITSTATUS(st);
    }
    S.status = ST_DRAINING;
    deadline_in(&S.drain_deadline, SHIM_DRAIN_MS);
    deadline_in(&S.drain_hard, SHIM_DRAIN_MAX_MS);
  }
}

static void cleanup_and_exit(int code) {
  unlink("control.sock");
  unlink("attach.sock");
  control_close_all();
  diag("shim exiting");
  exit(code);
}

int main(int argc, char **argv) {
  S.sync_out = -1;
  const char *env = getenv("BERTH_SYNC_FD");
  int sfd = env ? atoi(env) : 3;
  if (sfd >= 0 && fcntl(sfd, F_GETFD) >= 0) {
    if (sfd != 3 && dup2(sfd, 3) < 0) sfd = -1;
    else sfd = 3;
  } else {
    sfd = -1;
  }
  S.sync_out = sfd;
  unsetenv("BERTH_SYNC_FD");
  close_range(sfd == 3 ? 4 : 3, ~0U, 0);
  if (sfd == 3) fcntl(3, F_SETFD, FD_CLOEXEC);
  parse_args(argc, argv);

  if (mkdir(S.o.state_dir, 0700) < 0 && errno != EEXIST) fatal("mkdir", S.o.state_dir);
  daemonize();

  /* From here on: the shim. */
  prctl(PR_SET_NAME, "berth-shim");
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) fatal("prctl", "PR_SET_CHILD_SUBREAPER");
  if (chdir(S.o.state_dir) < 0) fatal("chdir", S.o.state_dir);
  int fd = open("/dev/null", O_RDONLY);
  if (fd < 0) fatal("open", "/dev/null");
  dup2(fd, 0);
  if (fd != 0) close(fd);
  fd = open("shim.log", O_WRONLY | O_CREAT | O_APPEND, 0640);
  if (fd < 0) fatal("open", "shim.log");
  dup2(fd, 1);
  dup2(fd, 2);
  if (fd > 2) close(fd);
  diag("starting for container %s", S.o.id);

  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  S.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (S.sigfd < 0) fatal("signalfd", "SIGCHLD");
  S.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (S.epfd < 0) fatal("epoll_create1", "shim");
  ep_add(S.sigfd, EPOLLIN, TAG_SIGNAL, 0);

  S.out_fd[0] = S.out_fd[1] = S.out_fd[2] = -1;
  S.stdin_fd = S.sync_child = S.start_ctl = -1;
  S.status = ST_CREATING;
  unlink("exit.json");
  unlink("shim.json");
  errno = 0;
  if (jsonlog_open() < 0) fatal("open", S.o.log_path);
  if (control_listen() < 0) fatal("listen", "control.sock");
  if (attach_listen() < 0) fatal("listen", "attach.sock");
  if (child_setup_stdio() < 0) fatal("stdio", S.o.tty ? "pty" : "pipes");
  if (child_spawn() < 0) fatal("fork", S.o.direct_argv ? S.o.direct_argv[0] : S.o.init_path);

  struct timespec shutdown_deadline = {0, 0};
  for (;;) {
    if (S.shutdown_requested == 2) cleanup_and_exit(1);
    if (S.stalled && ms_until(&S.stall_deadline) == 0) {
      attach_drop_full();
      output_resume();
    }
    if (S.status == ST_DRAINING &&
        ((S.out_fd[1] < 0 && S.out_fd[2] < 0) || (!S.stalled && ms_until(&S.drain_deadline) == 0) ||
         ms_until(&S.drain_hard) == 0))
      finalize_exit();
    if (S.shutdown_requested && S.status == ST_EXITED) {
      if (!shutdown_deadline.tv_sec) {
        clock_gettime(CLOCK_MONOTONIC, &shutdown_deadline);
        shutdown_deadline.tv_sec += 2; /* let attach clients take the last output */
      }
      if (attach_all_closed() || ms_until(&shutdown_deadline) == 0) cleanup_and_exit(0);
    }
    int timeout = -1;
    if (S.status == ST_DRAINING)
      timeout = (int)ms_until(S.stalled ? &S.drain_hard : &S.drain_deadline);
    if (S.stalled && (timeout < 0 || ms_until(&S.stall_deadline) < timeout))
      timeout = (int)ms_until(&S.stall_deadline);
    if (shutdown_deadline.tv_sec) timeout = (int)ms_until(&shutdown_deadline);
    struct epoll_event evs[32];
    int n = epoll_wait(S.epfd, evs, 32, timeout);
    if (n < 0 && errno != EINTR) fatal("epoll_wait", "shim");
    for (int i = 0; i < n; i++) {
      enum tag tag = (enum tag)(evs[i].data.u64 >> 32);
      uint32_t idx = (uint32_t)evs[i].data.u64;
      uint32_t e = evs[i].events;
      switch (tag) {
      case TAG_SIGNAL: on_sigchld(); break;
      case TAG_CTL_LISTEN: control_accept(); break;
      case TAG_ATT_LISTEN: attach_accept(); break;
      case TAG_CTL: control_event(idx, e); break;
      case TAG_ATT: attach_event(idx, e); break;
      case TAG_OUT: out_event((int)idx, e); break;
      case TAG_STDIN:
        if (e & EPOLLERR) stdin_really_close();
        else stdin_flush();
        break;
      case TAG_SYNC: child_on_sync(); break;
      }
    }
  }
}
