/* Writes a line, then stores through a NULL pointer: the process must die of SIGSEGV (139). */
#include <unistd.h>

int main(void) {
  int *volatile p = 0; /* volatile: the compiler may not see that p is NULL and trap instead. */
  write(1, "before\n", 7);
  *p = 42;
  write(1, "after\n", 6);
  return 0;
}
