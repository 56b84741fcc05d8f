/* poll and epoll on /proc/sys/kernel/hostname and domainname: after sethostname or
 * setdomainname each open file reports POLLERR|POLLPRI once, then no more until the next
 * change. The names are set to what they already are (a change all the same), and the native
 * run is in its own UTS namespace. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "_check.h"

static void show(const char *what, int epfd) {
  struct epoll_event ev = {0};
  int n = epoll_wait(epfd, &ev, 1, 100);
  printf("%s: %d event(s)%s%s\n", what, n, n > 0 && (ev.events & EPOLLERR) ? " ERR" : "",
         n > 0 && (ev.events & EPOLLPRI) ? " PRI" : "");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd1 = open("/proc/sys/kernel/hostname", O_RDONLY);
  int fd2 = open("/proc/sys/kernel/hostname", O_RDONLY);
  int fd3 = open("/proc/sys/kernel/domainname", O_RDONLY);
  int ep[3];
  int fds[3] = {fd1, fd2, fd3};
  for (int i = 0; i < 3; i++) {
    ep[i] = epoll_create1(0);
    struct epoll_event ev = {0};
    ev.data.fd = fds[i];
    epoll_ctl(ep[i], EPOLL_CTL_ADD, fds[i], &ev);
  }
  struct pollfd p = {fd1, POLLIN, 0};
  R("poll before any change", poll(&p, 1, 0));
  printf("  revents %#x\n", p.revents);
  show("epoll before any change", ep[0]);
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  R("sethostname (unchanged)", sethostname(name, strlen(name)));
  show("first hostname file", ep[0]);
  show("second hostname file", ep[1]);
  show("first again", ep[0]);
  show("domainname file", ep[2]);
  char dom[256] = {0};
  getdomainname(dom, sizeof(dom) - 1);
  R("setdomainname (unchanged)", setdomainname(dom, strlen(dom)));
  show("domainname file", ep[2]);
  R("poll of the second hostname file, which saw its change", poll(&(struct pollfd){fd2, POLLIN, 0}, 1, 0));
  return 0;
}
