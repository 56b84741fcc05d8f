/* Prints a greeting through stdio: the smallest program that needs exec, brk/mmap and write. */
#include <stdio.h>

int main(void) {
  printf("Hello, world!\n");
  return 0;
}
