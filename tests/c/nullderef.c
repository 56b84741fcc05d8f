/* Writes a line, then stores through a NULL pointer: the process must die of SIGSEGV (139). */
#include <unistd.h>

int main(void) {
  /* Both volatile: the compiler may neither see that p is NULL nor drop the store. */
  volatile int *volatile p = 0;
  write(1, "before\n", 7);
  *p = 42;
  write(1, "after\n", 6);
  return 0;
}
