/* Writes to /proc/self/oom_score_adj and coredump_filter are read as Linux's kstrtoint/uint of
 * base 0 on the C string of at most 12 bytes written, stripped of surrounding spaces: a write
 * with its NUL counted, hex, octal, a sign, a newline, junk, out of range. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "_check.h"

static void put(const char *file, const char *text, size_t len) {
  char path[64], back[32] = {0};
  snprintf(path, sizeof(path), "/proc/self/%s", file);
  int fd = open(path, O_WRONLY);
  errno = 0;
  long r = write(fd, text, len);
  int e = errno;
  close(fd);
  fd = open(path, O_RDONLY);
  read(fd, back, sizeof(back) - 1);
  close(fd);
  back[strcspn(back, "\n")] = 0;
  printf("%s <- %zu bytes \"", file, len);
  for (size_t i = 0; i < len; i++) printf(text[i] >= ' ' ? "%c" : "\\x%02x", (unsigned char)text[i]);
  printf("\": %ld %s, reads %s\n", r, r < 0 ? en(e) : "", back);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  put("oom_score_adj", "7", 2); /* "7\0" */
  put("oom_score_adj", "5\n", 2);
  put("oom_score_adj", " \t12 \n", 6);
  put("oom_score_adj", "0x10", 4);
  put("oom_score_adj", "010", 3);
  put("oom_score_adj", "+3", 2);
  put("oom_score_adj", "5\0garbage", 9);
  put("oom_score_adj", "00000000000000000009", 20);
  put("oom_score_adj", "7x", 2);
  put("oom_score_adj", "", 0);
  put("oom_score_adj", "\n", 1);
  put("oom_score_adj", "1001", 4);
  put("oom_score_adj", "-1001", 5);
  put("oom_score_adj", "+-3", 3);
  put("oom_score_adj", "0x", 2);
  put("oom_score_adj", "09", 2);
  put("oom_score_adj", "4294967297", 10);
  put("oom_score_adj", "1\n\n", 3);
  put("coredump_filter", "0x7\0", 4);
  put("coredump_filter", " 0x3ff\n", 7);
  put("coredump_filter", "-1", 2);
  put("coredump_filter", "+17", 3);
  put("coredump_filter", "017", 3);
  put("coredump_filter", "4294967296", 10);
  put("coredump_filter", "18446744073709551617", 20);
  put("coredump_filter", "0000000000000000000000000000000000000000000000000001", 52);
  put("coredump_filter", "0x1\n", 4);
  put("coredump_filter", "0x1\n\n", 5);
  return 0;
}
