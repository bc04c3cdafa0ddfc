/* Docker's json-file log driver, byte for byte:
 *   {"log":"<line incl. \n>","stream":"stdout","time":"<RFC3339Nano UTC>"}\n
 * Lines are cut at 16 KiB (written without the trailing newline, as Docker's
 * copier marks them partial); what is left at EOF is written the same way.
 * Escaping follows moby's ffjsonWriteJSONBytesAsString (<, >, & and control
 * bytes as \u00XX, invalid UTF-8 as \ufffd, U+2028/2029 escaped).
 * Rotation as moby's LogFile: before a write, if the file has reached
 * max-size, log.(n-2)→log.(n-1) … log→log.1 and start a new file.
 * Entries are formatted by hand (no printf; the time's date part is kept per
 * second) into one buffer, written when it passes OBUF_FLUSH and at the end
 * of every read: whole entries only, so a reader never sees half a line. */
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
/* Room for the largest entry (a 16 KiB line, every byte escaped as \u00XX) after OBUF_FLUSH bytes:
 * the pages past OBUF_FLUSH are touched only by such lines. */
#define ENTRY_MAX (SHIM_LINE_MAX * 6 + 128)
#define OBUF_FLUSH (32 * 1024)
static char obuf[OBUF_FLUSH + ENTRY_MAX];
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

/* Escapes s[0,n) into out (room for 6n bytes); returns the length written. */
static size_t put_escaped(char *out, const unsigned char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  char *o = out;
  size_t i = 0, start = 0;
  while (i < n) {
    unsigned char b = s[i];
    if (b < 0x80) {
      if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&') {
        i++;
        continue;
      }
      memcpy(o, s + start, i - start);
      o += i - start;
      *o++ = '\\';
      if (b == '\\' || b == '"') *o++ = (char)b;
      else if (b == '\n') *o++ = 'n';
      else if (b == '\r') *o++ = 'r';
      else {
        memcpy(o, "u00", 3);
        o[3] = hex[b >> 4];
        o[4] = hex[b & 15];
        o += 5;
      }
      start = ++i;
      continue;
    }
    size_t l = utf8_len(s + i, n - i);
    if (l == 0) {
      memcpy(o, s + start, i - start);
      o += i - start;
      memcpy(o, "\\ufffd", 6);
      o += 6;
      start = ++i;
      continue;
    }
    if (l == 3 && b == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
      memcpy(o, s + start, i - start);
      o += i - start;
      memcpy(o, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
      o += 6;
      start = i += 3;
      continue;
    }
    i += l;
  }
  memcpy(o, s + start, n - start);
  return (size_t)(o - out) + (n - start);
}

/* RFC3339Nano in UTC as fmt_time, without printf: the date and time of day are formatted once
 * per second, the fraction by hand. out needs 40 bytes. */
static size_t entry_time(char *out, const struct timespec *ts) {
  static time_t sec = (time_t)-1;
  static char day[40];
  static size_t day_len;
  if (ts->tv_sec != sec || day_len == 0) {
    struct timespec whole = {ts->tv_sec, 0};
    size_t n = fmt_time(day, sizeof day, &whole); /* ...T15:04:05Z */
    day_len = n > 0 ? n - 1 : 0;
    sec = ts->tv_sec;
  }
  memcpy(out, day, day_len);
  size_t o = day_len;
  long ns = ts->tv_nsec;
  if (ns > 0) {
    char d[9];
    for (int i = 8; i >= 0; i--) {
      d[i] = (char)('0' + ns % 10);
      ns /= 10;
    }
    size_t k = 9;
    while (k > 0 && d[k - 1] == '0') k--;
    out[o++] = '.';
    memcpy(out + o, d, k);
    o += k;
  }
  out[o++] = 'Z';
  return o;
}

static void write_entry(int stream, const char *p, size_t n) {
  static const char tail_out[] = "\",\"stream\":\"stdout\",\"time\":\"";
  static const char tail_err[] = "\",\"stream\":\"stderr\",\"time\":\"";
  if (n == 0 || log_fd < 0) return;
  if (S.o.log_max_size > 0 && cur_size + (long long)olen >= S.o.log_max_size) rotate();
  if (olen >= OBUF_FLUSH) oflush(); /* whole entries only: ENTRY_MAX is left */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char *o = obuf + olen;
  memcpy(o, "{\"log\":\"", 8);
  o += 8;
  o += put_escaped(o, (const unsigned char *)p, n);
  memcpy(o, stream == STREAM_STDERR ? tail_err : tail_out, sizeof tail_out - 1);
  o += sizeof tail_out - 1;
  o += entry_time(o, &ts);
  memcpy(o, "\"}\n", 3);
  o += 3;
  olen = (size_t)(o - obuf);
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
