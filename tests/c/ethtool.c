/* SIOCETHTOOL on lo, in a network namespace of the program's own (so natively the host's
 * devices are never touched): software timestamping only and no PTP clock (the generic answer
 * of a device without ethtool operations of its own), GLINK 0 while lo is down and 1 once
 * it is up, EOPNOTSUPP for what lo's driver does not do, ENODEV for an unknown name, EFAULT for
 * a bad ifr_data. */
#define _GNU_SOURCE
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "_check.h"

static void probe(int s, const char *when) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strcpy(ifr.ifr_name, "lo");
  struct ethtool_ts_info t;
  memset(&t, 0, sizeof(t));
  t.cmd = ETHTOOL_GET_TS_INFO;
  ifr.ifr_data = (void *)&t;
  int r = ioctl(s, SIOCETHTOOL, &ifr);
  printf("%s: GET_TS_INFO = %d %s: cmd %#x so_timestamping %#x phc_index %d tx_types %u rx_filters %u\n", when, r,
         r ? en(errno) : "", t.cmd, t.so_timestamping, t.phc_index, t.tx_types, t.rx_filters);
  struct ethtool_value v = {ETHTOOL_GLINK, 7};
  ifr.ifr_data = (void *)&v;
  r = ioctl(s, SIOCETHTOOL, &ifr);
  printf("%s: GLINK = %d %s: %u\n", when, r, r ? en(errno) : "", v.data);
  struct ethtool_drvinfo d;
  memset(&d, 0, sizeof(d));
  d.cmd = ETHTOOL_GDRVINFO;
  ifr.ifr_data = (void *)&d;
  r = ioctl(s, SIOCETHTOOL, &ifr);
  printf("%s: GDRVINFO = %d %s\n", when, r, r ? en(errno) : "");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNET) != 0) {
    printf("unshare(CLONE_NEWNET): %s\n", en(errno));
    return 1;
  }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  probe(s, "lo down");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strcpy(ifr.ifr_name, "lo");
  ifr.ifr_flags = IFF_UP;
  printf("SIOCSIFFLAGS up = %d\n", ioctl(s, SIOCSIFFLAGS, &ifr));
  probe(s, "lo up");
  strcpy(ifr.ifr_name, "nosuch0");
  struct ethtool_value v = {ETHTOOL_GLINK, 0};
  ifr.ifr_data = (void *)&v;
  int r = ioctl(s, SIOCETHTOOL, &ifr);
  printf("unknown device: %d %s\n", r, r ? en(errno) : "");
  strcpy(ifr.ifr_name, "lo");
  ifr.ifr_data = (void *)8;
  r = ioctl(s, SIOCETHTOOL, &ifr);
  printf("bad ifr_data: %d %s\n", r, r ? en(errno) : "");
  return 0;
}
