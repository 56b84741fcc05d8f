/* /proc/net as Linux lays it out: a link to self/net; /proc/net/snmp's Tcp and Udp counters
 * move with the program's own traffic (a refused connect, a connection, datagrams to a
 * listener and to no one); netstat, if_inet6 and /proc/sys/net/ipv6 are there. Prints facts
 * that hold on a busy host too (counters only grow: "at least"). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The value of proto's field `name` in /proc/net/snmp. */
static long long mib(const char *proto, const char *name) {
  static char buf[16384];
  int fd = open("/proc/net/snmp", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  size_t plen = strlen(proto);
  for (char *line = buf; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (strncmp(line, proto, plen) == 0 && line[plen] == ':' && next) {
      char *vals = next, *vnext = strchr(vals, '\n');
      if (vnext) *vnext = 0;
      char *sn, *sv;
      char *nt = strtok_r(line + plen + 1, " ", &sn), *vt = strtok_r(vals + plen + 1, " ", &sv);
      while (nt && vt) {
        if (strcmp(nt, name) == 0) return atoll(vt);
        nt = strtok_r(NULL, " ", &sn);
        vt = strtok_r(NULL, " ", &sv);
      }
      return -1;
    }
    line = next;
  }
  return -1;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct stat st;
  char link[64] = {0};
  lstat("/proc/net", &st);
  readlink("/proc/net", link, sizeof link - 1);
  printf("/proc/net: link %d -> %s\n", S_ISLNK(st.st_mode), link);
  stat("/proc/net", &st);
  printf("/proc/net followed: dir %d mode %o\n", S_ISDIR(st.st_mode), st.st_mode & 0777);
  const char *files[] = {"/proc/net/netstat", "/proc/net/if_inet6", "/proc/self/net/tcp", "/proc/sys/net/ipv6/bindv6only",
                         "/proc/sys/net/ipv4/tcp_sack", "/proc/sys/net/ipv4/tcp_recovery", "/proc/sys/net/ipv4/ip_forward"};
  for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) printf("%s: %s\n", files[i], access(files[i], R_OK) == 0 ? "readable" : strerrorname_np(errno));

  long long ao = mib("Tcp", "ActiveOpens"), af = mib("Tcp", "AttemptFails"), rst = mib("Tcp", "OutRsts");
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1)};
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  printf("connect to a closed port: %s\n", connect(s, (struct sockaddr *)&sin, sizeof sin) < 0 ? strerrorname_np(errno) : "ok");
  close(s);
  printf("ActiveOpens +1: %d, AttemptFails +1: %d, OutRsts +1: %d\n", mib("Tcp", "ActiveOpens") >= ao + 1,
         mib("Tcp", "AttemptFails") >= af + 1, mib("Tcp", "OutRsts") >= rst + 1);

  long long po = mib("Tcp", "PassiveOpens");
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sin.sin_port = 0;
  bind(l, (struct sockaddr *)&sin, sizeof sin);
  listen(l, 1);
  socklen_t len = sizeof sin;
  getsockname(l, (struct sockaddr *)&sin, &len);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  connect(c, (struct sockaddr *)&sin, sizeof sin);
  int a = accept(l, NULL, NULL);
  /* (CurrEstab is a gauge other connections of a busy host move both ways: not compared.) */
  printf("PassiveOpens +1: %d, CurrEstab a number: %d\n", mib("Tcp", "PassiveOpens") >= po + 1, mib("Tcp", "CurrEstab") >= 0);
  close(a);
  close(c);
  close(l);

  long long in = mib("Udp", "InDatagrams"), out = mib("Udp", "OutDatagrams"), np = mib("Udp", "NoPorts");
  int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
  sin.sin_port = 0;
  bind(u, (struct sockaddr *)&sin, sizeof sin);
  len = sizeof sin;
  getsockname(u, (struct sockaddr *)&sin, &len);
  sendto(v, "x", 1, 0, (struct sockaddr *)&sin, sizeof sin);
  char b[4];
  recv(u, b, sizeof b, 0);
  sin.sin_port = htons(9);
  sendto(v, "y", 1, 0, (struct sockaddr *)&sin, sizeof sin);
  usleep(10000);
  printf("Udp InDatagrams +1: %d, OutDatagrams +2: %d, NoPorts +1: %d\n", mib("Udp", "InDatagrams") >= in + 1,
         mib("Udp", "OutDatagrams") >= out + 2, mib("Udp", "NoPorts") >= np + 1);
  return 0;
}
