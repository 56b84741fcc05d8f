/*
 * Socket filters (SO_ATTACH_FILTER, classic BPF), compared with Linux (tests/net_test.ts): the
 * programs bpf_check_classic refuses and the optlen rules, SO_GET_FILTER's count and copy,
 * SO_DETACH_FILTER with none, SO_LOCK_FILTER, and filters at work on UDP over 127.0.0.1 and ::1:
 * a drop on the payload's first byte, a cut to the UDP header and 3 bytes, a load of the source
 * address through SKF_NET_OFF, a load past the end (0: dropped), scratch memory and ALU.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "_ckpt.h"

#ifndef SO_LOCK_FILTER
#define SO_LOCK_FILTER 44
#endif

static void report(const char *what, int r) {
  printf("%s: %d", what, r);
  if (r < 0) printf(" errno %d", errno);
  printf("\n");
}

static int attach(int s, struct sock_filter *code, unsigned short len) {
  struct sock_fprog prog = {.len = len, .filter = code};
  return setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

#define N(a) (unsigned short)(sizeof(a) / sizeof(*(a)))

static void refused(int s) {
  struct sock_filter ret0[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_filter no_ret[] = {BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0)};
  struct sock_filter bad_code[] = {{0x27, 0, 0, 0}, BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_filter div0[] = {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_filter lsh32[] = {BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_filter far_jump[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_filter far_ja[] = {BPF_STMT(BPF_JMP | BPF_JA, 1), BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_filter mem16[] = {BPF_STMT(BPF_ST, 16), BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_filter unset_mem[] = {BPF_STMT(BPF_LD | BPF_MEM, 3), BPF_STMT(BPF_RET | BPF_A, 0)};
  struct sock_filter unset_on_a_path[] = {
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), BPF_STMT(BPF_ST, 2), BPF_STMT(BPF_LD | BPF_MEM, 2),
      BPF_STMT(BPF_RET | BPF_A, 0)};
  struct sock_filter set_on_both[] = {
      BPF_STMT(BPF_ST, 2), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), BPF_STMT(BPF_ST, 2), BPF_STMT(BPF_LD | BPF_MEM, 2),
      BPF_STMT(BPF_RET | BPF_A, 0)};
  struct sock_filter bad_anc[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 2), BPF_STMT(BPF_RET | BPF_A, 0)};
  struct sock_filter good_anc[] = {BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL), BPF_STMT(BPF_RET | BPF_A, 0)};
  report("attach ret 0", attach(s, ret0, 1));
  report("attach len 0", attach(s, ret0, 0));
  report("attach len 4097", attach(s, ret0, 4097));
  report("attach null", attach(s, NULL, 1));
  report("attach no ret", attach(s, no_ret, N(no_ret)));
  report("attach bad code", attach(s, bad_code, N(bad_code)));
  report("attach div 0", attach(s, div0, N(div0)));
  report("attach lsh 32", attach(s, lsh32, N(lsh32)));
  report("attach far jump", attach(s, far_jump, N(far_jump)));
  report("attach far ja", attach(s, far_ja, N(far_ja)));
  report("attach mem 16", attach(s, mem16, N(mem16)));
  report("attach unset mem", attach(s, unset_mem, N(unset_mem)));
  report("attach unset on a path", attach(s, unset_on_a_path, N(unset_on_a_path)));
  report("attach set on both paths", attach(s, set_on_both, N(set_on_both)));
  report("attach bad ancillary", attach(s, bad_anc, N(bad_anc)));
  report("attach SKF_AD_PROTOCOL", attach(s, good_anc, N(good_anc)));
  struct sock_fprog prog = {.len = 1, .filter = ret0};
  report("attach optlen 15", setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog - 1));
  report("attach optlen 17", setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog + 1));
  report("attach optlen 3", setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, 3));
}

/*
 * Prints each datagram received up to one that starts with "END" (sent last, and let through by
 * the filter in place), so that no wait depends on time; 10 s at most.
 */
static void drain(int s, const char *what) {
  char buf[256];
  int n;
  struct timeval tv = {.tv_sec = 10};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  printf("%s:", what);
  while ((n = recv(s, buf, sizeof buf, 0)) >= 0) {
    if (n >= 3 && memcmp(buf, "END", 3) == 0) {
      printf(" [end %d]\n", n);
      return;
    }
    printf(" [%d '%.*s']", n, n, buf);
  }
  printf(" errno %d\n", errno);
}

/* The last datagram of a round: long enough for every filter here to let it through. */
static void end(int w) {
  char b[120];
  memset(b, 'e', sizeof b);
  memcpy(b, "END", 3);
  send(w, b, sizeof b, 0);
}

static void udp(int family) {
  printf("-- family %d\n", family);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *a = (void *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (void *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  int r = socket(family, SOCK_DGRAM, 0), w = socket(family, SOCK_DGRAM, 0);
  bind(r, (void *)&ss, len);
  getsockname(r, (void *)&ss, &len);
  connect(w, (void *)&ss, len);
  if (family == AF_INET) refused(r);

  /* None attached. */
  report("detach none", setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, &(int){0}, sizeof(int)));
  socklen_t olen = 10;
  struct sock_filter back[8];
  report("get none", getsockopt(r, SOL_SOCKET, SO_GET_FILTER, back, &olen));
  printf("  optlen %u\n", olen);

  /* Drop datagrams whose payload starts with 'x'. */
  struct sock_filter no_x[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'x', 0, 1), BPF_STMT(BPF_RET | BPF_K, 0),
      BPF_STMT(BPF_RET | BPF_K, 0xffff)};
  report("attach no-x", attach(r, no_x, N(no_x)));
  send(w, "xyz", 3, 0);
  send(w, "abc", 3, 0);
  send(w, "", 0, 0);
  end(w);
  drain(r, "no-x");

  /* Keep the UDP header and 3 bytes: a cut. Also below the header: 8 kept. */
  struct sock_filter cut[] = {BPF_STMT(BPF_RET | BPF_K, 11)};
  report("attach cut", attach(r, cut, N(cut)));
  send(w, "hello", 5, 0);
  send(w, "END", 3, 0);
  drain(r, "cut");
  struct sock_filter tiny[] = {BPF_STMT(BPF_RET | BPF_K, 3)};
  report("attach tiny", attach(r, tiny, N(tiny)));
  send(w, "hello", 5, 0);
  printf("tiny: %zd\n", recv(r, (char[8]){0}, 8, 0));

  /* The destination port (UDP header) and the source address's last byte through SKF_NET_OFF,
   * added in scratch memory and returned when right. */
  unsigned short port = family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  unsigned src_last = family == AF_INET ? SKF_NET_OFF + 15 : SKF_NET_OFF + 23;
  struct sock_filter ports[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2),
      BPF_STMT(BPF_ST, 0),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, src_last),
      BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_LD | BPF_MEM, 0),
      BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)port + 1, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0x40000),
      BPF_STMT(BPF_RET | BPF_K, 0)};
  report("attach port+src", attach(r, ports, N(ports)));
  send(w, "ports", 5, 0);
  end(w);
  drain(r, "port+src");

  /* A load past the end of the packet ends the program with 0. */
  struct sock_filter past[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 100), BPF_STMT(BPF_RET | BPF_K, 0xffff)};
  report("attach past end", attach(r, past, N(past)));
  send(w, "short", 5, 0);
  end(w);
  drain(r, "past end");
  /* The length and an indexed load: keep len-1 bytes when the last one is '!'. */
  struct sock_filter ind[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0), BPF_STMT(BPF_ALU | BPF_SUB | BPF_K, 1), BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, '!', 0, 1), BPF_STMT(BPF_MISC | BPF_TXA, 0),
      BPF_STMT(BPF_RET | BPF_A, 0)};
  report("attach ind", attach(r, ind, N(ind)));
  send(w, "bang!", 5, 0);
  send(w, "END!", 4, 0);
  drain(r, "ind");

  /* SO_GET_FILTER: the count with optlen 0, EINVAL when too small, the program back. */
  olen = 0;
  report("get count", getsockopt(r, SOL_SOCKET, SO_GET_FILTER, back, &olen));
  printf("  optlen %u\n", olen);
  olen = 3;
  report("get too small", getsockopt(r, SOL_SOCKET, SO_GET_FILTER, back, &olen));
  olen = 8;
  memset(back, 0, sizeof back);
  report("get", getsockopt(r, SOL_SOCKET, SO_GET_FILTER, back, &olen));
  printf("  optlen %u same %d\n", olen, memcmp(back, ind, sizeof ind) == 0);

  /* Locked: neither replaced nor removed, nor unlocked. */
  int v;
  socklen_t vl = sizeof v;
  getsockopt(r, SOL_SOCKET, SO_LOCK_FILTER, &v, &vl);
  printf("lock before: %d\n", v);
  report("lock", setsockopt(r, SOL_SOCKET, SO_LOCK_FILTER, &(int){1}, sizeof(int)));
  report("detach locked", setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, &(int){0}, sizeof(int)));
  report("attach locked", attach(r, cut, N(cut)));
  report("unlock", setsockopt(r, SOL_SOCKET, SO_LOCK_FILTER, &(int){0}, sizeof(int)));
  report("lock again", setsockopt(r, SOL_SOCKET, SO_LOCK_FILTER, &(int){1}, sizeof(int)));
  getsockopt(r, SOL_SOCKET, SO_LOCK_FILTER, &v, &vl);
  printf("lock after: %d len %u\n", v, vl);
  close(r);
  close(w);

  /* Detach works on a fresh socket; a TCP socket takes a filter too. */
  r = socket(family, SOCK_DGRAM, 0);
  report("attach fresh", attach(r, cut, N(cut)));
  report("detach", setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, &(int){0}, sizeof(int)));
  report("detach again", setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, &(int){0}, sizeof(int)));
  report("detach optlen 2", setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, &(int){0}, 2));
  close(r);
  int t = socket(family, SOCK_STREAM, 0);
  report("attach tcp", attach(t, cut, N(cut)));
  report("detach tcp", setsockopt(t, SOL_SOCKET, SO_DETACH_FILTER, &(int){0}, sizeof(int)));
  close(t);
}

/* With an argument: holds a UDP socket with a filter for 2 s (the checkpoint test). */
int main(int argc, char **argv) {
  (void)argv;
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sock_filter all[] = {BPF_STMT(BPF_RET | BPF_K, 0xffff)};
    report("attach", attach(s, all, 1));
    await_checkpoint(); /* the checkpoint test's --checkpoint-after comes here */
    return 0;
  }
  udp(AF_INET);
  udp(AF_INET6);
  return 0;
}
