/*
 * sendfile from a file onto its own end (memfd, gaps of 1 to 3 bytes): the copy repeats the
 * bytes between the read offset and the end, as a byte-by-byte copy does on Linux; prints the
 * results, the size, the tail and a checksum of the whole file.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include <string.h>
int main(){ for (int g = 1; g <= 3; g++) { int fd = memfd_create("m", 0); write(fd, "abc", g); off_t off = 0; ssize_t r = sendfile(fd, fd, &off, 100000 + g);
 char buf[16]; ssize_t n = pread(fd, buf, 8, 99990); unsigned long sum = 0; char c; for (off_t i = 0; i < 100000 + 2*g; i++) { pread(fd, &c, 1, i); sum = sum * 31 + c; }
 printf("gap %d: sendfile %zd off %ld size %ld tail %.*s sum %lu\n", g, r, (long)off, (long)lseek(fd, 0, SEEK_END), (int)n, buf, sum); close(fd);} return 0; }
