/* Docker's json-file log driver, byte for byte:
 *   {"log":"<line incl. \n>","stream":"stdout","time":"<RFC3339Nano UTC>"}\n
 * Lines are cut at 16 KiB (written without the trailing newline, as Docker's
 * copier marks them partial); what is left at EOF is written the same way.
 * Escaping follows moby's ffjsonWriteJSONBytesAsString (<, >, & and control
 * bytes as \u00XX, invalid UTF-8 as \ufffd, U+2028/2029 escaped).
 * Rotation as moby's LogFile: before a write, if the file has reached
 * max-size, log.(n-2)→log.(n-1) … log→log.1 and start a new file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

static int log_fd = -1;
static long long cur_size;
static char line[3][SHIM_LINE_MAX];
static size_t line_len[3];
static char obuf[8192];
static size_t olen;

int jsonlog_open(void) {
  log_fd = open(S.o.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) {
    diag("open `%s`: %s", S.o.log_path, strerror(errno));
    return -1;
  }
  struct stat st;
  cur_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
  return 0;
}

static void oflush(void) {
  if (olen && log_fd >= 0 && write_all(log_fd, obuf, olen) < 0)
    diag("write `%s`: %s", S.o.log_path, strerror(errno));
  cur_size += (long long)olen;
  olen = 0;
}

static void oput(const char *p, size_t n) {
  if (olen + n > sizeof obuf) oflush();
  if (n > sizeof obuf) { /* a long run without escapes: straight to the file */
    if (log_fd >= 0 && write_all(log_fd, p, n) < 0) diag("write `%s`: %s", S.o.log_path, strerror(errno));
    cur_size += (long long)n;
    return;
  }
  memcpy(obuf + olen, p, n);
  olen += n;
}

static void rotate(void) {
  char from[4096], to[4096];
  oflush();
  if (S.o.log_max_file >= 2) {
    for (int i = S.o.log_max_file - 1; i > 1; i--) {
      snprintf(from, sizeof from, "%s.%d", S.o.log_path, i - 1);
      snprintf(to, sizeof to, "%s.%d", S.o.log_path, i);
      if (rename(from, to) < 0 && errno != ENOENT) diag("rename `%s`: %s", from, strerror(errno));
    }
    snprintf(to, sizeof to, "%s.1", S.o.log_path);
    if (rename(S.o.log_path, to) < 0) diag("rename `%s`: %s", S.o.log_path, strerror(errno));
  }
  int fd = open(S.o.log_path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    diag("open `%s`: %s", S.o.log_path, strerror(errno));
    return; /* keep writing to the old file rather than lose output */
  }
  close(log_fd);
  log_fd = fd;
  cur_size = 0;
}

/* utf8.DecodeRune's acceptance rules; returns the sequence length or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char b = s[0], lo = 0x80, hi = 0xBF;
  size_t len;
  if (b >= 0xC2 && b <= 0xDF) len = 2;
  else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else return 0;
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return len;
}

static void put_escaped(const unsigned char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i = 0, start = 0;
  while (i < n) {
    unsigned char b = s[i];
    if (b < 0x80) {
      if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&') {
        i++;
        continue;
      }
      oput((const char *)s + start, i - start);
      char e[6] = {'\\', 'u', '0', '0', hex[b >> 4], hex[b & 15]};
      if (b == '\\' || b == '"') oput((char[]){'\\', (char)b}, 2);
      else if (b == '\n') oput("\\n", 2);
      else if (b == '\r') oput("\\r", 2);
      else oput(e, 6);
      start = ++i;
      continue;
    }
    size_t l = utf8_len(s + i, n - i);
    if (l == 0) {
      oput((const char *)s + start, i - start);
      oput("\\ufffd", 6);
      start = ++i;
      continue;
    }
    if (l == 3 && b == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
      oput((const char *)s + start, i - start);
      oput(s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
      start = i += 3;
      continue;
    }
    i += l;
  }
  oput((const char *)s + start, n - start);
}

static void write_entry(int stream, const char *p, size_t n) {
  if (n == 0 || log_fd < 0) return;
  if (S.o.log_max_size > 0 && cur_size + (long long)olen >= S.o.log_max_size) rotate();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char tail[96];
  size_t tl = (size_t)snprintf(tail, sizeof tail, "\",\"stream\":\"%s\",\"time\":\"",
                               stream == STREAM_STDERR ? "stderr" : "stdout");
  tl += fmt_time(tail + tl, sizeof tail - tl, &ts);
  memcpy(tail + tl, "\"}\n", 3);
  tl += 3;
  oput("{\"log\":\"", 8);
  put_escaped((const unsigned char *)p, n);
  oput(tail, tl);
}

void jsonlog_feed(int stream, const char *data, size_t len) {
  char *buf = line[stream];
  size_t *bl = &line_len[stream];
  while (len > 0) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) + 1 : len;
    if (take > SHIM_LINE_MAX - *bl) take = SHIM_LINE_MAX - *bl;
    if (*bl == 0 && nl && take == (size_t)(nl - data) + 1) {
      write_entry(stream, data, take); /* whole line in hand: no copy */
    } else {
      memcpy(buf + *bl, data, take);
      *bl += take;
      if (buf[*bl - 1] == '\n' || *bl == SHIM_LINE_MAX) {
        write_entry(stream, buf, *bl);
        *bl = 0;
      }
    }
    data += take;
    len -= take;
  }
  oflush();
}

void jsonlog_flush_partial(int stream) {
  if (line_len[stream]) write_entry(stream, line[stream], line_len[stream]);
  line_len[stream] = 0;
  oflush();
}
