/*
 * The checkpoint benchmark's "100 MiB resident" process: fills a 100 MiB heap with
 * pseudo-random bytes (xorshift: nothing for the image's compression to find, the worst case),
 * says "ready", then sleeps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  size_t n = 100u << 20;
  unsigned char *p = malloc(n);
  if (p == NULL) return 2;
  unsigned long long x = 88172645463325252ull;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(p + i, &x, 8);
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
