/* A small project built with make -j2 by tests/processes_test.ts. */
long add(long a, long b);
long mul(long a, long b);
long power(long base, int exp);
