/*
 * The legacy iptables interface (ip_tables, ip6_tables), compared with Linux (tests/net_test.ts):
 * IPT_SO_GET_INFO and IPT_SO_GET_ENTRIES of the initial tables (hooks, underflows, entries with
 * their comefrom and counters), IPT_SO_GET_REVISION_MATCH/TARGET, IPT_SO_SET_REPLACE of a table
 * with a user chain, a jump, matches and targets (read back, the old counters returned), the
 * validation errnos of a replacement (EINVAL, ELOOP, ENOENT, EAGAIN, ENOMEM), and
 * IPT_SO_SET_ADD_COUNTERS; the same for IPv6 on its own tables.
 *
 * It changes the tables: natively it must run in a network namespace of its own (the test runs
 * it under `unshare -n`, never in the host's); in the sentry the sandbox's stack is its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "_check.h"
#include "_ckpt.h"

/* en() with the errnos it lacks here. */
static const char *errname(int e) {
  switch (e) {
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EPROTOTYPE: return "EPROTOTYPE";
    default: return en(e);
  }
}
#define en errname

#define SE (sizeof(struct ipt_entry) + sizeof(struct xt_standard_target))
#define EE (sizeof(struct ipt_entry) + sizeof(struct xt_error_target))

static int s4, s6;

static void show_info(int s, int level, const char *name) {
  struct ipt_getinfo info;
  memset(&info, 0, sizeof info);
  snprintf(info.name, sizeof info.name, "%s", name);
  socklen_t len = sizeof info;
  int r = getsockopt(s, level, IPT_SO_GET_INFO, &info, &len);
  if (r < 0) {
    printf("info %s: %s\n", name, en(errno));
    return;
  }
  printf("info %s: hooks 0x%x entries", info.name, info.valid_hooks);
  for (int h = 0; h < 5; h++) printf(" %d/%d", (int)info.hook_entry[h], (int)info.underflow[h]);
  printf(" num %u size %u len %u\n", info.num_entries, info.size, len);
}

/* The entries of table `name`, printed one a line (IPv4 layout). */
static void show_entries4(const char *name) {
  struct ipt_getinfo info;
  memset(&info, 0, sizeof info);
  snprintf(info.name, sizeof info.name, "%s", name);
  socklen_t len = sizeof info;
  if (getsockopt(s4, SOL_IP, IPT_SO_GET_INFO, &info, &len) < 0) {
    printf("entries %s: info %s\n", name, en(errno));
    return;
  }
  len = sizeof(struct ipt_get_entries) + info.size;
  struct ipt_get_entries *g = malloc(len);
  memset(g, 0xa5, len);
  snprintf(g->name, sizeof g->name, "%s", name);
  g->size = info.size;
  if (getsockopt(s4, SOL_IP, IPT_SO_GET_ENTRIES, g, &len) < 0) {
    printf("entries %s: %s\n", name, en(errno));
    free(g);
    return;
  }
  printf("entries %s: size %u len %u\n", g->name, g->size, len);
  for (unsigned off = 0; off < g->size;) {
    struct ipt_entry *e = (void *)((char *)g->entrytable + off);
    printf("  @%u src %08x proto %u inv 0x%x target_offset %u next %u comefrom 0x%x pcnt %llu bcnt %llu", off, e->ip.src.s_addr,
           e->ip.proto, e->ip.invflags, e->target_offset, e->next_offset, e->comefrom,
           (unsigned long long)e->counters.pcnt, (unsigned long long)e->counters.bcnt);
    for (unsigned i = sizeof *e; i < e->target_offset;) {
      struct xt_entry_match *m = (void *)((char *)e + i);
      printf(" match %s/%u size %u", m->u.user.name, m->u.user.revision, m->u.match_size);
      if (m->u.match_size == 0) break;
      i += m->u.match_size;
    }
    struct xt_entry_target *t = (void *)((char *)e + e->target_offset);
    printf(" target '%s'/%u size %u", t->u.user.name, t->u.user.revision, t->u.target_size);
    if (strcmp(t->u.user.name, "") == 0) printf(" verdict %d", ((struct xt_standard_target *)t)->verdict);
    if (strcmp(t->u.user.name, "ERROR") == 0) printf(" errorname %s", ((struct xt_error_target *)t)->errorname);
    /* Bytes of the caller's buffer the kernel does not write: the names' tails. */
    printf(" tail %02x\n", (unsigned char)t->u.user.name[28]);
    if (e->next_offset == 0) break;
    off += e->next_offset;
  }
  free(g);
}

static void revision(int s, int level, int opt, const char *name, int rev, socklen_t len) {
  struct xt_get_revision r;
  memset(&r, 0, sizeof r);
  snprintf(r.name, sizeof r.name, "%s", name);
  r.revision = rev;
  int ret = getsockopt(s, level, opt, &r, &len);
  printf("revision %s %s/%d: %d %s rev %u len %u\n", opt == IPT_SO_GET_REVISION_MATCH || opt == IP6T_SO_GET_REVISION_MATCH ? "match" : "target",
         name, rev, ret, ret < 0 ? en(errno) : "0", r.revision, len);
}

/* A table under construction. */
struct builder {
  char buf[8192];
  unsigned size, n;
};

static struct ipt_entry *add_entry(struct builder *b, unsigned matches_size, unsigned target_size) {
  struct ipt_entry *e = (void *)(b->buf + sizeof(struct ipt_replace) + b->size);
  memset(e, 0, sizeof *e + matches_size + target_size);
  e->target_offset = sizeof *e + matches_size;
  e->next_offset = sizeof *e + matches_size + target_size;
  b->size += e->next_offset;
  b->n++;
  return e;
}

static unsigned std_rule(struct builder *b, int verdict) {
  unsigned at = b->size;
  struct ipt_entry *e = add_entry(b, 0, sizeof(struct xt_standard_target));
  struct xt_standard_target *t = (void *)e->elems;
  t->target.u.target_size = sizeof *t;
  t->verdict = verdict;
  return at;
}

static unsigned error_rule(struct builder *b, const char *errorname) {
  unsigned at = b->size;
  struct ipt_entry *e = add_entry(b, 0, sizeof(struct xt_error_target));
  struct xt_error_target *t = (void *)e->elems;
  t->target.u.target_size = sizeof *t;
  strcpy(t->target.u.user.name, "ERROR");
  snprintf(t->errorname, sizeof t->errorname, "%s", errorname);
  return at;
}

static int replace(struct builder *b, const char *table, unsigned hooks, const unsigned *entry, const unsigned *uflow,
                   unsigned num_counters, struct xt_counters *counters) {
  struct ipt_replace *r = (void *)b->buf;
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", table);
  r->valid_hooks = hooks;
  r->num_entries = b->n;
  r->size = b->size;
  for (int h = 0; h < 5; h++) {
    r->hook_entry[h] = entry[h];
    r->underflow[h] = uflow[h];
  }
  r->num_counters = num_counters;
  r->counters = counters;
  return setsockopt(s4, SOL_IP, IPT_SO_SET_REPLACE, b->buf, sizeof *r + b->size);
}

static void report(const char *what, int r) {
  printf("%s: %d %s\n", what, r, r < 0 ? en(errno) : "0");
}

/* The filter table with INPUT: a tcp dport 22 rule jumping to a user chain that marks and
 * returns, a REJECT rule, policy DROP; FORWARD and OUTPUT accept. */
static void build_filter(struct builder *b, unsigned *entry, unsigned *uflow, int loop, int cond_policy) {
  memset(b, 0, sizeof *b);
  for (int h = 0; h < 5; h++) entry[h] = uflow[h] = 0;
  /* INPUT */
  entry[NF_INET_LOCAL_IN] = b->size;
  unsigned msz = XT_ALIGN(sizeof(struct xt_entry_match)) + XT_ALIGN(sizeof(struct xt_tcp));
  struct ipt_entry *e = add_entry(b, msz, sizeof(struct xt_standard_target));
  unsigned jump_at = b->size - e->next_offset;
  e->ip.proto = IPPROTO_TCP;
  struct xt_entry_match *m = (void *)e->elems;
  m->u.match_size = msz;
  strcpy(m->u.user.name, "tcp");
  struct xt_tcp *tcp = (void *)m->data;
  tcp->spts[1] = 0xffff;
  tcp->dpts[0] = tcp->dpts[1] = 22;
  unsigned rsz = XT_ALIGN(sizeof(struct xt_entry_target)) + XT_ALIGN(sizeof(struct ipt_reject_info));
  e = add_entry(b, 0, rsz);
  e->ip.proto = IPPROTO_UDP;
  struct xt_entry_target *rt = (void *)e->elems;
  rt->u.target_size = rsz;
  strcpy(rt->u.user.name, "REJECT");
  ((struct ipt_reject_info *)rt->data)->with = IPT_ICMP_PORT_UNREACHABLE;
  uflow[NF_INET_LOCAL_IN] = std_rule(b, cond_policy ? -NF_ACCEPT - 1 : -NF_DROP - 1);
  if (cond_policy) ((struct ipt_entry *)(b->buf + sizeof(struct ipt_replace) + uflow[NF_INET_LOCAL_IN]))->ip.proto = 6;
  entry[NF_INET_FORWARD] = uflow[NF_INET_FORWARD] = std_rule(b, -NF_ACCEPT - 1);
  entry[NF_INET_LOCAL_OUT] = uflow[NF_INET_LOCAL_OUT] = std_rule(b, -NF_ACCEPT - 1);
  /* The user chain "mine": a comment rule, a mark rule, then RETURN (or a jump to itself). */
  unsigned chain = error_rule(b, "mine");
  unsigned csz = XT_ALIGN(sizeof(struct xt_entry_match)) + XT_ALIGN(sizeof(struct xt_comment_info));
  e = add_entry(b, csz, sizeof(struct xt_standard_target));
  m = (void *)e->elems;
  m->u.match_size = csz;
  strcpy(m->u.user.name, "comment");
  strcpy(((struct xt_comment_info *)m->data)->comment, "hi");
  struct xt_standard_target *st = (void *)((char *)e + e->target_offset);
  st->target.u.target_size = sizeof *st;
  st->verdict = loop ? (int)(chain + EE) : XT_CONTINUE;
  unsigned mksz = XT_ALIGN(sizeof(struct xt_entry_match)) + XT_ALIGN(sizeof(struct xt_mark_mtinfo1));
  e = add_entry(b, mksz, sizeof(struct xt_standard_target));
  m = (void *)e->elems;
  m->u.match_size = mksz;
  m->u.user.revision = 1;
  strcpy(m->u.user.name, "mark");
  ((struct xt_mark_mtinfo1 *)m->data)->mark = 7;
  ((struct xt_mark_mtinfo1 *)m->data)->mask = 0xff;
  st = (void *)((char *)e + e->target_offset);
  st->target.u.target_size = sizeof *st;
  st->verdict = -NF_ACCEPT - 1;
  std_rule(b, XT_RETURN);
  error_rule(b, "ERROR");
  /* The tcp rule jumps to the chain's first rule. */
  st = (void *)(b->buf + sizeof(struct ipt_replace) + jump_at + sizeof(struct ipt_entry) + msz);
  st->target.u.target_size = sizeof *st;
  st->verdict = chain + EE;
}

static void ipv4(void) {
  show_info(s4, SOL_IP, "filter");
  show_info(s4, SOL_IP, "nat");
  show_info(s4, SOL_IP, "mangle");
  show_info(s4, SOL_IP, "raw");
  show_info(s4, SOL_IP, "nosuch");
  show_entries4("filter");
  show_entries4("raw");

  /* GET_INFO and GET_ENTRIES lengths. */
  struct ipt_getinfo info;
  memset(&info, 0, sizeof info);
  strcpy(info.name, "filter");
  socklen_t len = sizeof info - 1;
  report("info short", getsockopt(s4, SOL_IP, IPT_SO_GET_INFO, &info, &len));
  len = sizeof info + 1;
  report("info long", getsockopt(s4, SOL_IP, IPT_SO_GET_INFO, &info, &len));
  len = sizeof info;
  report("info filter", getsockopt(s4, SOL_IP, IPT_SO_GET_INFO, &info, &len));
  struct ipt_get_entries *g = calloc(1, sizeof *g + info.size + 8);
  strcpy(g->name, "filter");
  g->size = info.size;
  len = sizeof *g - 1;
  report("entries short", getsockopt(s4, SOL_IP, IPT_SO_GET_ENTRIES, g, &len));
  len = sizeof *g + info.size + 8;
  report("entries long", getsockopt(s4, SOL_IP, IPT_SO_GET_ENTRIES, g, &len));
  g->size = info.size - 8;
  len = sizeof *g + info.size - 8;
  report("entries smaller size", getsockopt(s4, SOL_IP, IPT_SO_GET_ENTRIES, g, &len));
  strcpy(g->name, "nosuch");
  g->size = 0;
  len = sizeof *g;
  report("entries nosuch", getsockopt(s4, SOL_IP, IPT_SO_GET_ENTRIES, g, &len));
  free(g);

  revision(s4, SOL_IP, IPT_SO_GET_REVISION_TARGET, "REDIRECT", 0, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_TARGET, "REDIRECT", 1, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_TARGET, "REDIRECT", 0, sizeof(struct xt_get_revision) + 1);
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_TARGET, "NOSUCHTARGET", 0, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_TARGET, "CT", 2, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_TARGET, "REJECT", 0, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_TARGET, "DNAT", 2, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_MATCH, "mark", 1, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_MATCH, "mark", 3, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_MATCH, "tcp", 0, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_MATCH, "icmp", 0, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_MATCH, "icmp6", 0, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_MATCH, "conntrack", 3, sizeof(struct xt_get_revision));
  revision(s4, SOL_IP, IPT_SO_GET_REVISION_MATCH, "REDIRECT", 0, sizeof(struct xt_get_revision));

  /* Replacements. */
  static struct builder b;
  unsigned entry[5], uflow[5];
  struct xt_counters old[64];
  unsigned filter_hooks = (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_FORWARD) | (1 << NF_INET_LOCAL_OUT);
  build_filter(&b, entry, uflow, 0, 0);
  struct ipt_replace *r = (void *)b.buf;
  report("replace no counters", replace(&b, "filter", filter_hooks, entry, uflow, 0, old)); /* fills the header */
  r->num_counters = 4;
  report("replace short", setsockopt(s4, SOL_IP, IPT_SO_SET_REPLACE, b.buf, sizeof *r + b.size - 1));
  report("replace huge counters", replace(&b, "filter", filter_hooks, entry, uflow, INT_MAX / 16, old));
  report("replace wrong hooks", replace(&b, "filter", filter_hooks | 1, entry, uflow, 4, old));
  report("replace nosuch table", replace(&b, "nosuch", filter_hooks, entry, uflow, 4, old));
  report("replace wrong num_counters", replace(&b, "filter", filter_hooks, entry, uflow, 5, old));
  memset(old, 0x5a, sizeof old);
  report("replace filter", replace(&b, "filter", filter_hooks, entry, uflow, 4, old));
  printf("old counters: %llu %llu %llu %llu, next untouched %d\n", (unsigned long long)old[0].pcnt, (unsigned long long)old[1].pcnt,
         (unsigned long long)old[2].pcnt, (unsigned long long)old[3].bcnt, old[4].pcnt == 0x5a5a5a5a5a5a5a5aull);
  show_info(s4, SOL_IP, "filter");
  show_entries4("filter");
  build_filter(&b, entry, uflow, 1, 0);
  report("replace loop", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 1);
  report("replace conditional policy", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 0);
  uflow[NF_INET_FORWARD] = uflow[NF_INET_LOCAL_IN];
  report("replace duplicate underflow", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 0);
  entry[NF_INET_LOCAL_OUT] = 4;
  report("replace hook not at an entry", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 0);
  strcpy(((struct xt_entry_match *)((struct ipt_entry *)(b.buf + sizeof *r))->elems)->u.user.name, "nosuchmatch");
  report("replace unknown match", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 0);
  ((struct xt_entry_match *)((struct ipt_entry *)(b.buf + sizeof *r))->elems)->u.user.revision = 9;
  report("replace unknown match revision", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 0);
  ((struct ipt_entry *)(b.buf + sizeof *r))->ip.proto = IPPROTO_UDP;
  report("replace tcp match on udp", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 0);
  b.n++;
  report("replace wrong num_entries", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 0);
  ((struct ipt_entry *)(b.buf + sizeof *r))->ip.flags = 0x80;
  report("replace bad ip flags", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 0);
  {
    struct ipt_entry *e = (void *)(b.buf + sizeof *r + uflow[NF_INET_FORWARD]);
    ((struct xt_standard_target *)e->elems)->verdict = -3;
  }
  report("replace bad verdict", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  build_filter(&b, entry, uflow, 0, 0);
  {
    struct ipt_entry *e = (void *)(b.buf + sizeof *r + entry[NF_INET_LOCAL_IN]);
    ((struct xt_standard_target *)((char *)e + e->target_offset))->verdict = 12345;
  }
  report("replace jump nowhere", replace(&b, "filter", filter_hooks, entry, uflow, 9, old));
  /* A nat table with REDIRECT in INPUT (it is for PREROUTING and OUTPUT only). */
  memset(&b, 0, sizeof b);
  unsigned nat_hooks = (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_LOCAL_OUT) | (1 << NF_INET_POST_ROUTING);
  for (int h = 0; h < 5; h++) entry[h] = uflow[h] = 0;
  for (int h = 0; h < 5; h++) {
    if (!(nat_hooks & (1 << h))) continue;
    entry[h] = b.size;
    if (h == NF_INET_LOCAL_IN) {
      unsigned tsz = XT_ALIGN(sizeof(struct xt_entry_target)) + XT_ALIGN(20);
      struct ipt_entry *e = add_entry(&b, 0, tsz);
      struct xt_entry_target *t = (void *)e->elems;
      t->u.target_size = tsz;
      strcpy(t->u.user.name, "REDIRECT");
      ((unsigned *)t->data)[0] = 1; /* rangesize */
    }
    uflow[h] = std_rule(&b, -NF_ACCEPT - 1);
  }
  error_rule(&b, "ERROR");
  report("replace nat REDIRECT in INPUT", replace(&b, "nat", nat_hooks, entry, uflow, 5, old));

  /* Counters: added to the filter table's entries, in order. */
  struct {
    struct xt_counters_info info;
    struct xt_counters c[10];
  } add;
  memset(&add, 0, sizeof add);
  strcpy(add.info.name, "filter");
  add.info.num_counters = 10;
  for (int i = 0; i < 10; i++) add.c[i].pcnt = i + 1, add.c[i].bcnt = 100 * (i + 1);
  report("add counters", setsockopt(s4, SOL_IP, IPT_SO_SET_ADD_COUNTERS, &add, sizeof add));
  add.info.num_counters = 9;
  report("add counters wrong number", setsockopt(s4, SOL_IP, IPT_SO_SET_ADD_COUNTERS, &add, sizeof add));
  report("add counters wrong size", setsockopt(s4, SOL_IP, IPT_SO_SET_ADD_COUNTERS, &add, sizeof add - 16));
  strcpy(add.info.name, "nosuch");
  add.info.num_counters = 10;
  report("add counters nosuch", setsockopt(s4, SOL_IP, IPT_SO_SET_ADD_COUNTERS, &add, sizeof add));
  show_entries4("filter");

  /* Other sockets reach the same tables; unknown commands. */
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  show_info(u, SOL_IP, "filter");
  int t6 = socket(AF_INET6, SOCK_STREAM, 0);
  show_info(t6, SOL_IP, "filter");
  close(t6);
  close(u);
  len = sizeof info;
  report("getsockopt 68", getsockopt(s4, SOL_IP, 68, &info, &len));
  report("setsockopt 66", setsockopt(s4, SOL_IP, 66, &info, sizeof info));

  /* Back to the initial filter table. */
  memset(&b, 0, sizeof b);
  for (int h = 0; h < 5; h++) entry[h] = uflow[h] = 0;
  for (int h = 1; h < 4; h++) entry[h] = uflow[h] = std_rule(&b, -NF_ACCEPT - 1);
  error_rule(&b, "ERROR");
  report("replace initial filter", replace(&b, "filter", filter_hooks, entry, uflow, 10, old));
  printf("old counters: %llu/%llu %llu/%llu %llu/%llu\n", (unsigned long long)old[0].pcnt, (unsigned long long)old[0].bcnt,
         (unsigned long long)old[1].pcnt, (unsigned long long)old[1].bcnt, (unsigned long long)old[9].pcnt,
         (unsigned long long)old[9].bcnt);
}

static void ipv6(void) {
  show_info(s6, SOL_IPV6, "filter");
  show_info(s6, SOL_IPV6, "nat");
  show_info(s6, SOL_IPV6, "raw");
  struct ip6t_getinfo info;
  memset(&info, 0, sizeof info);
  strcpy(info.name, "filter");
  socklen_t len = sizeof info;
  report("info6 filter", getsockopt(s6, SOL_IPV6, IP6T_SO_GET_INFO, &info, &len));
  len = sizeof(struct ip6t_get_entries) + info.size;
  struct ip6t_get_entries *g = calloc(1, len);
  strcpy(g->name, "filter");
  g->size = info.size;
  report("entries6 filter", getsockopt(s6, SOL_IPV6, IP6T_SO_GET_ENTRIES, g, &len));
  for (unsigned off = 0; off < g->size;) {
    struct ip6t_entry *e = (void *)((char *)g->entrytable + off);
    struct xt_entry_target *t = (void *)((char *)e + e->target_offset);
    printf("  @%u target_offset %u next %u comefrom 0x%x target '%s' size %u\n", off, e->target_offset, e->next_offset,
           e->comefrom, t->u.user.name, t->u.target_size);
    off += e->next_offset;
  }
  /* A replacement: OUTPUT drops, others accept. */
  char buf[2048];
  memset(buf, 0, sizeof buf);
  struct ip6t_replace *r = (void *)buf;
  strcpy(r->name, "filter");
  r->valid_hooks = info.valid_hooks;
  unsigned off = 0, n = 0;
  const unsigned se6 = sizeof(struct ip6t_entry) + sizeof(struct xt_standard_target);
  for (int h = 0; h < 5; h++) {
    if (!(r->valid_hooks & (1 << h))) continue;
    r->hook_entry[h] = r->underflow[h] = off;
    struct ip6t_entry *e = (void *)(buf + sizeof *r + off);
    e->target_offset = sizeof *e;
    e->next_offset = se6;
    struct xt_standard_target *t = (void *)e->elems;
    t->target.u.target_size = sizeof *t;
    t->verdict = h == NF_INET_LOCAL_OUT ? -NF_DROP - 1 : -NF_ACCEPT - 1;
    off += se6;
    n++;
  }
  struct ip6t_entry *e = (void *)(buf + sizeof *r + off);
  e->target_offset = sizeof *e;
  e->next_offset = sizeof *e + sizeof(struct xt_error_target);
  struct xt_error_target *et = (void *)e->elems;
  et->target.u.target_size = sizeof *et;
  strcpy(et->target.u.user.name, "ERROR");
  strcpy(et->errorname, "ERROR");
  off += e->next_offset;
  n++;
  r->num_entries = n;
  r->size = off;
  r->num_counters = info.num_entries;
  struct xt_counters old[8];
  r->counters = old;
  report("replace6 filter", setsockopt(s6, SOL_IPV6, IP6T_SO_SET_REPLACE, buf, sizeof *r + off));
  report("replace6 on the IPv4 level", setsockopt(s6, SOL_IP, IPT_SO_SET_REPLACE, buf, sizeof *r + off));
  show_info(s6, SOL_IPV6, "filter");
  show_info(s4, SOL_IP, "filter");
  revision(s6, SOL_IPV6, IP6T_SO_GET_REVISION_TARGET, "REDIRECT", 0, sizeof(struct xt_get_revision));
  revision(s6, SOL_IPV6, IP6T_SO_GET_REVISION_MATCH, "icmp6", 0, sizeof(struct xt_get_revision));
  revision(s6, SOL_IPV6, IP6T_SO_GET_REVISION_MATCH, "icmp", 0, sizeof(struct xt_get_revision));
  len = sizeof info;
  report("getsockopt6 66", getsockopt(s6, SOL_IPV6, 66, &info, &len));
  len = sizeof info;
  report("getsockopt6 67 (IPV6_TCLASS)", getsockopt(s6, SOL_IPV6, 67, &info, &len));
  printf("  len %u\n", len);
  free(g);
}

/* With an argument, sleeps 2 s at the end (for the checkpoint test's --checkpoint-after 1). */
int main(int argc, char **argv) {
  (void)argv;
  setvbuf(stdout, NULL, _IONBF, 0);
  s4 = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  s6 = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
  if (s4 < 0 || s6 < 0) {
    printf("socket: %s\n", en(errno));
    return 1;
  }
  ipv4();
  ipv6();
  if (argc > 1) {
    printf("holding\n"); /* the checkpoint test's comes now */
    await_checkpoint();
  }
  return 0;
}
