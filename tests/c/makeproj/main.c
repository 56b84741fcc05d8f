#include <stdio.h>
#include <stdlib.h>
#include "calc.h"
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  long a = atol(argv[2]), b = atol(argv[3]);
  switch (argv[1][0]) {
    case '+': printf("%ld\n", add(a, b)); break;
    case '*': printf("%ld\n", mul(a, b)); break;
    case '^': printf("%ld\n", power(a, (int)b)); break;
    default: return 2;
  }
  return 0;
}
