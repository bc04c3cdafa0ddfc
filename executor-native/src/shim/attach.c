/* Attach socket `<state-dir>/attach.sock`.
 *
 *  client → shim   one header line: {"stdin":true,"stdout":true,"stderr":true}\n
 *  shim → client   {"ok":true}\n, then output: stdcopy frames [stream,0,0,0,len BE32]+payload
 *                  without a TTY, raw bytes with one. After the header, client bytes are the
 *                  container's stdin (if it was created with --stdin and the client asked).
 *  client half-close: with --stdin-once the container's stdin is closed (after what was sent
 *                  is written), otherwise the shim just stops reading from that client.
 *  container exit: output is drained, then every attach connection is closed.
 *
 * Slow clients: each client has a SHIM_ATTACH_BUF queue of unsent output. When a queue
 * cannot take another read, the shim stops reading the container's output (the container
 * blocks on its pipe, as with Docker, whose attach is lossless) until the client catches
 * up; a client that makes no progress for SHIM_STALL_MS is disconnected and output flows
 * again (the log has everything). So a dead client holds the container at most 2 s.
 * Stdin: while the container does not read its stdin, the shim stops reading stdin clients. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"

enum { A_HEADER, A_ACTIVE, A_CLOSING };

struct att {
  int fd, state;
  int want_in, want_out, want_err, rd_done;
  char *ring;
  size_t head, len;
  size_t hdr_len;
  char hdr[512];
};
static struct att atts[SHIM_MAX_ATTACH];
static int natts;

int attach_listen(void) {
  for (int i = 0; i < SHIM_MAX_ATTACH; i++) atts[i].fd = -1;
  S.att_listen = listen_unix("attach.sock");
  if (S.att_listen < 0) return -1;
  ep_add(S.att_listen, EPOLLIN, TAG_ATT_LISTEN, 0);
  return 0;
}

static void att_close(struct att *a) {
  if (a->fd < 0) return;
  int was_full = a->state == A_ACTIVE && SHIM_ATTACH_BUF - a->len < SHIM_READ_MAX + 8;
  ep_del(a->fd);
  close(a->fd);
  a->fd = -1;
  if (a->ring) munmap(a->ring, SHIM_ATTACH_BUF);
  a->ring = NULL;
  a->len = a->head = 0;
  natts--;
  if (was_full && S.stalled && attach_has_room()) output_resume();
}

static int reads_stdin(const struct att *a) {
  return a->state == A_ACTIVE && a->want_in && !a->rd_done && S.stdin_fd >= 0;
}

static void att_update(struct att *a) {
  uint32_t ev = 0; /* EPOLLRDHUP only while reading, or it would fire forever */
  if (a->state == A_HEADER || (reads_stdin(a) && !S.stdin_blocked)) ev |= EPOLLIN | EPOLLRDHUP;
  if (a->len) ev |= EPOLLOUT;
  ep_mod(a->fd, ev, TAG_ATT, (uint32_t)(a - atts));
}

/* Send what the ring holds; returns -1 if the client is gone. */
static int att_flush(struct att *a) {
  while (a->len) {
    size_t chunk = a->len;
    if (a->head + chunk > SHIM_ATTACH_BUF) chunk = SHIM_ATTACH_BUF - a->head;
    ssize_t w = send(a->fd, a->ring + a->head, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    a->head = (a->head + (size_t)w) % SHIM_ATTACH_BUF;
    a->len -= (size_t)w;
    if (S.stalled) deadline_in(&S.stall_deadline, SHIM_STALL_MS); /* progress */
  }
  a->head = 0;
  return 0;
}

/* Queue bytes for a client, sending at once when nothing is queued. -1: too slow or gone. */
static int att_put(struct att *a, const char *p, size_t n) {
  if (a->len == 0) {
    while (n) {
      ssize_t w = send(a->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return -1;
      }
      p += w;
      n -= (size_t)w;
    }
    if (!n) return 0;
  }
  if (n > SHIM_ATTACH_BUF - a->len) return -1;
  size_t tail = (a->head + a->len) % SHIM_ATTACH_BUF;
  size_t first = n < SHIM_ATTACH_BUF - tail ? n : SHIM_ATTACH_BUF - tail;
  memcpy(a->ring + tail, p, first);
  memcpy(a->ring, p + first, n - first);
  a->len += n;
  return 0;
}

void attach_accept(void) {
  for (;;) {
    int fd = accept4(S.att_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int i = 0;
    while (i < SHIM_MAX_ATTACH && atts[i].fd >= 0) i++;
    if (i == SHIM_MAX_ATTACH) {
      static const char busy[] = "{\"ok\":false,\"error\":\"too many attach clients\"}\n";
      (void)!write(fd, busy, sizeof busy - 1);
      close(fd);
      continue;
    }
    struct att *a = &atts[i];
    memset(a, 0, sizeof *a);
    a->fd = fd;
    a->state = A_HEADER;
    natts++;
    ep_add(fd, EPOLLIN | EPOLLRDHUP, TAG_ATT, (uint32_t)i);
  }
}

static void stdin_eof(struct att *a) {
  if (a->rd_done) return;
  a->rd_done = 1;
  if (a->want_in && S.o.stdin_once) stdin_close();
}

/* Client bytes → the container's stdin buffer. */
static void take_stdin(struct att *a, const char *p, size_t n) {
  if (!reads_stdin(a)) return;
  size_t room = sizeof S.stdin_buf - S.stdin_len;
  if (n > room) n = room; /* only after a header line: the rest is read later */
  memcpy(S.stdin_buf + S.stdin_len, p, n);
  S.stdin_len += n;
  stdin_flush();
}

static void header_done(struct att *a) {
  int v;
  a->want_in = json_get_bool(a->hdr, "stdin", &v) == 0 && v && S.o.open_stdin;
  a->want_out = json_get_bool(a->hdr, "stdout", &v) == 0 && v;
  a->want_err = json_get_bool(a->hdr, "stderr", &v) == 0 && v;
  a->ring = mmap(NULL, SHIM_ATTACH_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a->ring == MAP_FAILED) {
    a->ring = NULL;
    att_close(a);
    return;
  }
  a->state = A_ACTIVE;
  if (att_put(a, "{\"ok\":true}\n", 12) < 0) {
    att_close(a);
    return;
  }
  if (S.status == ST_EXITED) a->state = A_CLOSING;
}

void attach_event(uint32_t idx, uint32_t events) {
  struct att *a = &atts[idx];
  if (a->fd < 0) return;
  if (events & EPOLLOUT) {
    if (att_flush(a) < 0) {
      att_close(a);
      if (S.stalled && attach_has_room()) output_resume();
      return;
    }
    if (S.stalled && attach_has_room()) output_resume();
  }
  if (events & EPOLLIN) {
    char buf[16384];
    size_t cap = sizeof buf;
    if (a->state == A_HEADER) cap = sizeof a->hdr - 1 - a->hdr_len;
    else if (cap > sizeof S.stdin_buf - S.stdin_len) cap = sizeof S.stdin_buf - S.stdin_len;
    ssize_t r = cap ? read(a->fd, a->state == A_HEADER ? a->hdr + a->hdr_len : buf, cap) : -1;
    if (r < 0 && cap && errno != EAGAIN && errno != EINTR) {
      stdin_eof(a);
      att_close(a);
      return;
    }
    if (r == 0) {
      if (a->state == A_HEADER) {
        att_close(a);
        return;
      }
      stdin_eof(a);
    } else if (r > 0 && a->state == A_HEADER) {
      a->hdr_len += (size_t)r;
      a->hdr[a->hdr_len] = 0;
      char *nl = memchr(a->hdr, '\n', a->hdr_len);
      if (nl) {
        *nl = 0;
        size_t rest = a->hdr_len - (size_t)(nl - a->hdr) - 1;
        header_done(a);
        if (a->fd < 0) return;
        if (rest) take_stdin(a, nl + 1, rest);
      } else if (a->hdr_len == sizeof a->hdr - 1) {
        att_close(a);
        return;
      }
    } else if (r > 0) {
      take_stdin(a, buf, (size_t)r);
    }
  }
  if ((events & EPOLLHUP) || ((events & EPOLLERR) && a->fd >= 0)) {
    stdin_eof(a);
    att_close(a);
    return;
  }
  if (a->state == A_CLOSING && a->len == 0) {
    att_close(a);
    return;
  }
  att_update(a);
}

void attach_broadcast(int stream, const char *data, size_t len) {
  unsigned char hdr[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len};
  for (int i = 0; i < SHIM_MAX_ATTACH; i++) {
    struct att *a = &atts[i];
    if (a->fd < 0 || a->state == A_HEADER) continue;
    if (!(stream == STREAM_STDERR ? a->want_err : a->want_out)) continue;
    size_t before = a->len;
    int bad = (!S.o.tty && att_put(a, (const char *)hdr, 8) < 0) || att_put(a, data, len) < 0;
    if (bad) {
      diag("attach client %d fell %zu bytes behind or went away: disconnected", i, a->len);
      att_close(a);
      continue;
    }
    if ((before == 0) != (a->len == 0)) att_update(a);
  }
}

void attach_container_exited(void) {
  for (int i = 0; i < SHIM_MAX_ATTACH; i++) {
    struct att *a = &atts[i];
    if (a->fd < 0) continue;
    if (a->state == A_HEADER || a->len == 0) {
      att_close(a);
      continue;
    }
    a->state = A_CLOSING;
    att_update(a);
  }
}

void attach_stdin_changed(void) {
  for (int i = 0; i < SHIM_MAX_ATTACH; i++)
    if (atts[i].fd >= 0 && atts[i].state != A_HEADER) att_update(&atts[i]);
}

int attach_all_closed(void) { return natts == 0; }

static int full(const struct att *a) {
  return a->fd >= 0 && a->state == A_ACTIVE && (a->want_out || a->want_err) &&
         SHIM_ATTACH_BUF - a->len < SHIM_READ_MAX + 8;
}

int attach_has_room(void) {
  if (!natts) return 1;
  for (int i = 0; i < SHIM_MAX_ATTACH; i++)
    if (full(&atts[i])) return 0;
  return 1;
}

void attach_drop_full(void) {
  for (int i = 0; i < SHIM_MAX_ATTACH; i++)
    if (full(&atts[i])) {
      diag("attach client %d made no progress for %d ms with %zu bytes queued: disconnected", i, SHIM_STALL_MS,
           atts[i].len);
      att_close(&atts[i]);
    }
}
