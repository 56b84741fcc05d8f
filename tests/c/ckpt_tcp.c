/*
 * Checkpoint and restore of the sandbox's TCP/IP, over 127.0.0.1. A server (the parent) and a
 * client (a forked child) move 8 MiB of a fixed pseudo-random stream: the client writes 64 KiB
 * every 5 ms and the server reads 32 KiB every 10 ms, so the transfer takes about 2.6 s and
 * both socket queues are full at any moment of it (the checkpoint comes in its middle). Each
 * side prints the FNV-1a checksum of what it sent or got; the server sends its own back, which
 * the client prints too. Before the transfer the program also leaves a second connection in
 * the listener's accept queue with data already sent on it, and three datagrams queued on a
 * UDP socket; after it, it accepts and reads the first, receives the datagrams and one sent
 * after the transfer (400 ms later: a checkpoint then finds the client's end of the transfer in
 * TIME-WAIT, held by the stack alone). A restored run must print what a native run prints.
 *
 * With arguments ADDR PORT it also holds a connection to a server outside (the test's, on the
 * host): it reads the server's greeting before the transfer and, at the end, sends a byte and
 * reads the answer, printing what became of the connection (a restore resets it).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOTAL (8u << 20)
#define WCHUNK (64u << 10)
#define RCHUNK (32u << 10)

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static void die(const char *what) {
  dprintf(1, "%s failed\n", what);
  exit(1);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static struct sockaddr_in loopback(uint16_t port) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static uint16_t port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) die("getsockname");
  return ntohs(a.sin_port);
}

static void write_all(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) die("write");
    p += w;
    n -= (size_t)w;
  }
}

static void client(uint16_t port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(port);
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  static unsigned char buf[WCHUNK];
  uint32_t x = 12345;
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned sent = 0; sent < TOTAL; sent += WCHUNK) {
    for (unsigned i = 0; i < WCHUNK; i++) {
      x = x * 1103515245u + 12345u;
      buf[i] = (unsigned char)(x >> 16);
    }
    h = fnv(h, buf, WCHUNK);
    write_all(s, buf, WCHUNK);
    sleep_ms(5);
  }
  if (shutdown(s, SHUT_WR) != 0) die("shutdown");
  char reply[64] = {0};
  size_t got = 0;
  for (ssize_t r; (r = read(s, reply + got, sizeof reply - 1 - got)) > 0;) got += (size_t)r;
  dprintf(1, "client sent %u bytes, checksum %016llx; the server says %s\n", TOTAL, (unsigned long long)h, reply);
  exit(0);
}

int main(int argc, char **argv) {
  int host = -1;
  if (argc > 2) {
    host = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in ha = {0};
    ha.sin_family = AF_INET;
    ha.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &ha.sin_addr) != 1 || connect(host, (struct sockaddr *)&ha, sizeof ha) != 0) die("connect host");
    char hello[17] = {0};
    size_t got = 0;
    for (ssize_t r; got < 16 && (r = read(host, hello + got, 16 - got)) > 0;) got += (size_t)r;
    dprintf(1, "host says: %s", hello);
  }
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(0);
  if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 8) != 0) die("listen");
  uint16_t port = port_of(l);

  int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
  if (bind(u, (struct sockaddr *)&a, sizeof a) != 0) die("bind udp");
  struct sockaddr_in ua = loopback(port_of(u));
  for (int i = 0; i < 3; i++) {
    char d[32];
    int n = snprintf(d, sizeof d, "datagram-%d%s", i, i == 1 ? "-longer" : "");
    if (sendto(v, d, n, 0, (struct sockaddr *)&ua, sizeof ua) != n) die("sendto");
  }

  pid_t child = fork();
  if (child == 0) client(port);
  int c = accept(l, NULL, NULL);
  if (c < 0) die("accept");
  // A second connection left in the accept queue, with data sent on it.
  int early = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in la = loopback(port);
  if (connect(early, (struct sockaddr *)&la, sizeof la) != 0) die("connect early");
  write_all(early, (const unsigned char *)"early bird", 10);
  dprintf(1, "ready\n");

  static unsigned char buf[RCHUNK];
  uint64_t h = 0xcbf29ce484222325ull;
  unsigned total = 0;
  for (ssize_t r; (r = read(c, buf, sizeof buf)) > 0;) {
    h = fnv(h, buf, (size_t)r);
    total += (unsigned)r;
    sleep_ms(10);
  }
  dprintf(1, "server got %u bytes, checksum %016llx\n", total, (unsigned long long)h);
  char reply[64];
  int n = snprintf(reply, sizeof reply, "%016llx", (unsigned long long)h);
  write_all(c, (const unsigned char *)reply, (size_t)n);
  close(c);
  int status;
  if (waitpid(child, &status, 0) != child) die("waitpid");
  dprintf(1, "client status %d\n", status);
  // A pause with the client's end of the transfer in TIME-WAIT, which only the stack holds.
  sleep_ms(400);

  int e = accept(l, NULL, NULL);
  if (e < 0) die("accept early");
  char eb[32] = {0};
  if (read(e, eb, sizeof eb - 1) <= 0) die("read early");
  dprintf(1, "accepted later: %s\n", eb);

  if (sendto(v, "datagram-late", 13, 0, (struct sockaddr *)&ua, sizeof ua) != 13) die("sendto late");
  for (int i = 0; i < 4; i++) {
    char d[64] = {0};
    ssize_t r = recv(u, d, sizeof d - 1, 0);
    if (r < 0) die("recv");
    dprintf(1, "udp: %s (%zd)\n", d, r);
  }
  if (host >= 0) {
    char ok[3] = {0};
    ssize_t r = send(host, "x", 1, MSG_NOSIGNAL);
    if (r < 0) {
      dprintf(1, "host connection: send: %s\n", strerror(errno));
    } else if ((r = read(host, ok, 2)) < 0) {
      dprintf(1, "host connection: read: %s\n", strerror(errno));
    } else {
      dprintf(1, "host connection: %s\n", r == 0 ? "end of file" : ok);
    }
  }
  return 0;
}
