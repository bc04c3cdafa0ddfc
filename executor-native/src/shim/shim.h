/* berth-shim: the per-container monitor. Single-threaded, one epoll loop. */
#ifndef BERTH_SHIM_H
#define BERTH_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define SHIM_MAX_CTL 64
#define SHIM_MAX_ATTACH 32
#define SHIM_ATTACH_BUF (64 * 1024) /* per attach client queue of unsent output */
#define SHIM_READ_MAX (16 * 1024)    /* one read from the container's output */
#define SHIM_STALL_MS 2000           /* a full attach client making no progress this long is dropped */
#define SHIM_STDIN_BUF (64 * 1024)
#define SHIM_LINE_MAX (16 * 1024) /* Docker's partial-line boundary */
#define SHIM_DRAIN_MS 1000        /* after exit: no output and no EOF this long ⇒ stop waiting for EOF */
#define SHIM_DRAIN_MAX_MS 10000   /* after exit: record it no later than this */

enum stream_id { STREAM_STDIN = 0, STREAM_STDOUT = 1, STREAM_STDERR = 2 };
enum status { ST_CREATING, ST_CREATED, ST_RUNNING, ST_DRAINING, ST_EXITED };

/* epoll tags: high 32 bits kind, low 32 bits index */
enum tag {
  TAG_SIGNAL = 1, TAG_CTL_LISTEN, TAG_ATT_LISTEN, TAG_CTL, TAG_ATT,
  TAG_OUT, /* index = stream (1 stdout or pty master, 2 stderr) */
  TAG_STDIN, TAG_SYNC,
};

struct shim_opts {
  const char *id, *state_dir, *bundle, *log_path, *init_path;
  const char *exec_pid, *exec_spec; /* --init-exec: berth-init exec <pid> <spec> */
  const char *cgroup;                /* --cgroup berth/<id>: read oom_kill at exit */
  long long log_max_size;           /* -1: no rotation */
  int log_max_file;
  int tty, open_stdin, stdin_once;
  char **direct_argv; /* --exec-direct -- argv: no berth-init */
};

struct init_error {
  char stage[32], syscall[32], object[512], message[1024];
  int err;
};

struct shim {
  struct shim_opts o;
  int epfd, sigfd, ctl_listen, att_listen;
  int sync_out;           /* executor's ready fd (-1 once reported) */
  int sync_child;         /* our end of the socketpair to berth-init/stand-in */
  char sync_buf[4096];
  size_t sync_len;
  int out_fd[3];          /* [1] stdout pipe read end or pty master, [2] stderr pipe */
  int stdin_fd;           /* pipe write end or pty master (same fd as out_fd[1]); -1 closed */
  char stdin_buf[SHIM_STDIN_BUF];
  size_t stdin_len;
  int stdin_close_pending, stdin_blocked;
  pid_t init_pid, pid;    /* pid: the container process (host pid) */
  enum status status;
  int start_ctl;          /* control client waiting for the start result, or -1 */
  int go_sent;
  int exit_code, exit_signal, oom_killed;
  struct timespec started_at, exited_at;
  struct timespec drain_deadline, drain_hard;
  int stalled;                  /* output reading paused: an attach client's queue is full */
  struct timespec stall_deadline;
  int shutdown_requested;
  struct init_error err;  /* last error reported by the child (stage exec after start) */
  int have_err;
};

extern struct shim S;

/* util.c */
void deadline_in(struct timespec *d, int ms);
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int write_all(int fd, const void *buf, size_t len);
int write_file_atomic(const char *name, const char *data, size_t len);
size_t fmt_time(char *out, size_t cap, const struct timespec *ts); /* RFC3339Nano, Go's trimming */
int json_get_str(const char *js, const char *key, char *out, size_t cap);
int json_get_int(const char *js, const char *key, long long *out);
int json_get_bool(const char *js, const char *key, int *out);
size_t json_escape(char *out, size_t cap, const char *s); /* for short strings in replies */
int signal_from_name(const char *name);
int64_t ms_until(const struct timespec *deadline);
void ep_add(int fd, uint32_t events, enum tag tag, uint32_t idx);
void ep_mod(int fd, uint32_t events, enum tag tag, uint32_t idx);
void ep_del(int fd);

/* jsonlog.c */
int jsonlog_open(void);
void jsonlog_feed(int stream, const char *data, size_t len); /* splits lines, writes entries */
void jsonlog_flush_partial(int stream);                       /* at EOF: write what is left */

/* child.c */
int child_setup_stdio(void);
int child_spawn(void);
void child_on_sync(void);
int child_send_go(void);
void child_report_error(const struct init_error *e);
void child_fail_create(void); /* report S.err to the executor, kill, leave */

/* control.c */
int listen_unix(const char *name);
int control_listen(void);
void control_accept(void);
void control_event(uint32_t idx, uint32_t events);
void control_reply(int idx, const char *json);
void control_notify_exit(void);
void control_start_result(void);
void control_close_all(void);

/* attach.c */
int attach_listen(void);
void attach_accept(void);
void attach_event(uint32_t idx, uint32_t events);
void attach_broadcast(int stream, const char *data, size_t len);
void attach_container_exited(void);
void attach_stdin_changed(void); /* stdin blocked/unblocked/closed */
int attach_all_closed(void);
int attach_has_room(void);     /* every client can take one more read of output */
void attach_drop_full(void);   /* stall timed out: drop the clients that are still full */

/* main.c */
void stdin_flush(void);
void stdin_close(void);
size_t state_json(char *out, size_t cap);
void out_event(int stream, uint32_t events);
void output_resume(void);

#endif
