/*
 * nf_tables over NETLINK_NETFILTER beside Linux's, in a network namespace of its own (so that a
 * native run leaves the host's ruleset alone): batches of NFT_MSG_NEWTABLE/NEWCHAIN/NEWRULE
 * with their acks (the batch begin and end acked too), a table, chain and rule dump and their
 * attributes, GETGEN moving at each commit, errnos (EEXIST, ENOENT, EOPNOTSUPP, EINVAL, EBUSY)
 * and a batch with a failing message changing nothing, deletion, and a table owned by a socket
 * going with it. Prints no host-specific values.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_ckpt.h"

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static char out[8192];
static size_t outlen;
static char buf[1 << 16];
/* An attribute type send_and_print leaves out (0: none): a set's handle and backend name vary
 * with the kernel's module loading. */
static int hide1, hide2;
static unsigned seq = 100;
/* The family of the tables, chains and rules built (NFPROTO_INET unless a step says). */
static int fam = NFPROTO_INET;

static void *put(const void *p, size_t n) {
  void *at = out + outlen;
  memcpy(at, p, n);
  outlen += (n + 3) & ~3u;
  return at;
}

/* Starts a message; returns its offset so that its length can be closed. */
static size_t msg(int type, int flags, int family) {
  size_t at = outlen;
  struct nlmsghdr h = {.nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | flags, .nlmsg_seq = seq++};
  put(&h, sizeof h);
  struct nfgenmsg g = {.nfgen_family = family, .version = NFNETLINK_V0, .res_id = htons(NFNL_SUBSYS_NFTABLES)};
  put(&g, sizeof g);
  return at;
}

static void end(size_t at) { ((struct nlmsghdr *)(out + at))->nlmsg_len = outlen - at; }

static size_t attr_start(int type) {
  size_t at = outlen;
  struct nlattr a = {.nla_type = type};
  put(&a, sizeof a);
  return at;
}

static void attr_end(size_t at) { ((struct nlattr *)(out + at))->nla_len = outlen - at; }

static void attr(int type, const void *p, size_t n) {
  struct nlattr a = {.nla_len = NLA_HDRLEN + n, .nla_type = type};
  memcpy(out + outlen, &a, sizeof a);
  memcpy(out + outlen + NLA_HDRLEN, p, n);
  outlen += (NLA_HDRLEN + n + 3) & ~3u;
}

static void str(int type, const char *s) { attr(type, s, strlen(s) + 1); }
static void be32(int type, uint32_t v) {
  v = htonl(v);
  attr(type, &v, 4);
}

static int nft(int m) { return (NFNL_SUBSYS_NFTABLES << 8) | m; }

static void begin(void) {
  outlen = 0;
  end(msg(NFNL_MSG_BATCH_BEGIN, NLM_F_ACK, AF_UNSPEC));
}

static void finish(void) { end(msg(NFNL_MSG_BATCH_END, NLM_F_ACK, AF_UNSPEC)); }

/* Sends what was built and prints each answer until none is left. */
static void send_and_print(int fd, const char *what) {
  send(fd, out, outlen, 0);
  printf("%s:", what);
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        printf(" [seq+%u %s]", h->nlmsg_seq - 100, e->error ? strerror(-e->error) : "ack");
      } else if (h->nlmsg_type == NLMSG_DONE) {
        printf(" [done]");
      } else {
        struct nfgenmsg *g = NLMSG_DATA(h);
        printf(" [type %d/%d family %d multi %d", h->nlmsg_type >> 8, h->nlmsg_type & 0xff, g->nfgen_family,
               !!(h->nlmsg_flags & NLM_F_MULTI));
        struct nlattr *a = (struct nlattr *)((char *)g + NLMSG_ALIGN(sizeof *g));
        int rem = h->nlmsg_len - NLMSG_LENGTH(sizeof *g);
        for (; rem >= (int)sizeof *a && a->nla_len >= sizeof *a && a->nla_len <= rem;
             rem -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
          unsigned char *v = (unsigned char *)a + NLA_HDRLEN;
          int len = a->nla_len - NLA_HDRLEN;
          if ((a->nla_type & NLA_TYPE_MASK) == hide1 || (a->nla_type & NLA_TYPE_MASK) == hide2) continue;
          printf(" %d:", a->nla_type & NLA_TYPE_MASK);
          if (len > 1 && v[len - 1] == 0 && v[0] >= 'a' && v[0] <= 'z') printf("%s", v);
          else for (int i = 0; i < len; i++) printf("%02x", v[i]);
        }
        printf("]");
      }
    }
  }
  printf("\n");
}

static int sock(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    printf("socket: %s\n", strerror(errno));
    exit(0);
  }
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  bind(fd, (struct sockaddr *)&sa, sizeof sa);
  return fd;
}

static void table(int flags, const char *name, uint32_t tflags) {
  size_t m = msg(nft(NFT_MSG_NEWTABLE), NLM_F_ACK | flags, fam);
  str(NFTA_TABLE_NAME, name);
  if (tflags) be32(NFTA_TABLE_FLAGS, tflags);
  end(m);
}

static void base_chain(const char *t, const char *c, uint32_t policy) {
  size_t m = msg(nft(NFT_MSG_NEWCHAIN), NLM_F_ACK | NLM_F_CREATE, fam);
  str(NFTA_CHAIN_TABLE, t);
  str(NFTA_CHAIN_NAME, c);
  size_t h = attr_start(NFTA_CHAIN_HOOK);
  be32(NFTA_HOOK_HOOKNUM, NF_INET_LOCAL_IN);
  be32(NFTA_HOOK_PRIORITY, 0);
  attr_end(h);
  be32(NFTA_CHAIN_POLICY, policy);
  str(NFTA_CHAIN_TYPE, "filter");
  end(m);
}

static void rule(const char *t, const char *c, const char *expr, int verdict) {
  size_t m = msg(nft(NFT_MSG_NEWRULE), NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, NFPROTO_INET);
  str(NFTA_RULE_TABLE, t);
  str(NFTA_RULE_CHAIN, c);
  size_t l = attr_start(NFTA_RULE_EXPRESSIONS);
  size_t e = attr_start(NFTA_LIST_ELEM);
  str(NFTA_EXPR_NAME, expr);
  size_t d = attr_start(NFTA_EXPR_DATA);
  be32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
  size_t dd = attr_start(NFTA_IMMEDIATE_DATA);
  size_t v = attr_start(NFTA_DATA_VERDICT);
  be32(NFTA_VERDICT_CODE, verdict);
  attr_end(v);
  attr_end(dd);
  attr_end(d);
  attr_end(e);
  attr_end(l);
  end(m);
}

/* An nft_compat match: addrtype of revision `rev` with `flags` (xt_addrtype_info_v1). */
static void addrtype_rule(const char *t, const char *c, int rev, uint32_t flags) {
  size_t m = msg(nft(NFT_MSG_NEWRULE), NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, fam);
  str(NFTA_RULE_TABLE, t);
  str(NFTA_RULE_CHAIN, c);
  size_t l = attr_start(NFTA_RULE_EXPRESSIONS);
  size_t e = attr_start(NFTA_LIST_ELEM);
  str(NFTA_EXPR_NAME, "match");
  size_t d = attr_start(NFTA_EXPR_DATA);
  str(NFTA_MATCH_NAME, "addrtype");
  be32(NFTA_MATCH_REV, rev);
  struct {
    uint16_t source, dest;
    uint32_t flags;
  } info = {.source = 4, .flags = flags};
  attr(NFTA_MATCH_INFO, &info, sizeof info);
  attr_end(d);
  attr_end(e);
  attr_end(l);
  end(m);
}

/* A rule of one expression `name` whose data `fill` writes. */
static void expr_rule(const char *t, const char *c, const char *name, void (*fill)(void)) {
  size_t m = msg(nft(NFT_MSG_NEWRULE), NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, fam);
  str(NFTA_RULE_TABLE, t);
  str(NFTA_RULE_CHAIN, c);
  size_t l = attr_start(NFTA_RULE_EXPRESSIONS);
  size_t e = attr_start(NFTA_LIST_ELEM);
  str(NFTA_EXPR_NAME, name);
  size_t d = attr_start(NFTA_EXPR_DATA);
  fill();
  attr_end(d);
  attr_end(e);
  attr_end(l);
  end(m);
}

static void ct_state(void) {
  be32(NFTA_CT_DREG, NFT_REG_1);
  be32(NFTA_CT_KEY, NFT_CT_STATE);
}
static void ct_no_key(void) { be32(NFTA_CT_DREG, NFT_REG_1); }
static void ct_src_no_dir(void) {
  be32(NFTA_CT_DREG, NFT_REG_1);
  be32(NFTA_CT_KEY, NFT_CT_SRC);
}
static void ct_key_256(void) {
  be32(NFTA_CT_DREG, NFT_REG_1);
  be32(NFTA_CT_KEY, 256);
}
static void fib_oif(void) {
  be32(NFTA_FIB_DREG, NFT_REG_1);
  be32(NFTA_FIB_RESULT, NFT_FIB_RESULT_OIF);
  be32(NFTA_FIB_FLAGS, NFTA_FIB_F_SADDR);
}
static void fib_both(void) {
  be32(NFTA_FIB_DREG, NFT_REG_1);
  be32(NFTA_FIB_RESULT, NFT_FIB_RESULT_OIF);
  be32(NFTA_FIB_FLAGS, NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR);
}
static void nothing(void) {}
static void masq_reg5(void) { be32(NFTA_MASQ_REG_PROTO_MIN, 5); }
static void payload_off65536(void) {
  be32(NFTA_PAYLOAD_DREG, NFT_REG_1);
  be32(NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
  be32(NFTA_PAYLOAD_OFFSET, 65536);
  be32(NFTA_PAYLOAD_LEN, 4);
}
static void cmp_uninit(void) {
  be32(NFTA_CMP_SREG, NFT_REG_2);
  be32(NFTA_CMP_OP, NFT_CMP_EQ);
  size_t d = attr_start(NFTA_CMP_DATA);
  uint32_t v = 0;
  attr(NFTA_DATA_VALUE, &v, 4);
  attr_end(d);
}
static void payload_off65535(void) {
  be32(NFTA_PAYLOAD_DREG, NFT_REG_1);
  be32(NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
  be32(NFTA_PAYLOAD_OFFSET, 65535);
  be32(NFTA_PAYLOAD_LEN, 4);
}
static void lookup_missing(void) {
  str(NFTA_LOOKUP_SET, "none");
  be32(NFTA_LOOKUP_SREG, NFT_REG_1);
}

/* An anonymous binding chain of NFTA_CHAIN_ID `id`. */
static void binding_chain(const char *t, uint32_t id) {
  size_t m = msg(nft(NFT_MSG_NEWCHAIN), NLM_F_ACK | NLM_F_CREATE, fam);
  str(NFTA_CHAIN_TABLE, t);
  be32(NFTA_CHAIN_FLAGS, NFT_CHAIN_BINDING);
  be32(NFTA_CHAIN_ID, id);
  end(m);
}

/* A rule of chain c jumping to the chain of NFTA_CHAIN_ID `id`. */
static void jump_rule(const char *t, const char *c, uint32_t id) {
  size_t m = msg(nft(NFT_MSG_NEWRULE), NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, fam);
  str(NFTA_RULE_TABLE, t);
  str(NFTA_RULE_CHAIN, c);
  size_t l = attr_start(NFTA_RULE_EXPRESSIONS);
  size_t e = attr_start(NFTA_LIST_ELEM);
  str(NFTA_EXPR_NAME, "immediate");
  size_t d = attr_start(NFTA_EXPR_DATA);
  be32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
  size_t dd = attr_start(NFTA_IMMEDIATE_DATA);
  size_t v = attr_start(NFTA_DATA_VERDICT);
  be32(NFTA_VERDICT_CODE, NFT_JUMP);
  be32(NFTA_VERDICT_CHAIN_ID, id);
  attr_end(v);
  attr_end(dd);
  attr_end(d);
  attr_end(e);
  attr_end(l);
  end(m);
}

/* A map of 4-byte keys to 4-byte values. */
static void new_map(const char *t, const char *name, uint32_t id) {
  size_t m = msg(nft(NFT_MSG_NEWSET), NLM_F_ACK | NLM_F_CREATE, fam);
  str(NFTA_SET_TABLE, t);
  str(NFTA_SET_NAME, name);
  be32(NFTA_SET_KEY_LEN, 4);
  be32(NFTA_SET_ID, id);
  be32(NFTA_SET_FLAGS, NFT_SET_MAP);
  be32(NFTA_SET_DATA_TYPE, 0);
  be32(NFTA_SET_DATA_LEN, 4);
  end(m);
}

/* An element: key (NULL: the catch-all) and data (NULL: none). */
static void elem(const uint8_t *key, const uint8_t *data) {
  size_t e = attr_start(NFTA_LIST_ELEM);
  if (key == NULL) be32(NFTA_SET_ELEM_FLAGS, NFT_SET_ELEM_CATCHALL);
  if (key != NULL) {
    size_t k = attr_start(NFTA_SET_ELEM_KEY);
    attr(NFTA_DATA_VALUE, key, 4);
    attr_end(k);
  }
  if (data != NULL) {
    size_t d = attr_start(NFTA_SET_ELEM_DATA);
    attr(NFTA_DATA_VALUE, data, 4);
    attr_end(d);
  }
  attr_end(e);
}

static const uint8_t key1[4] = {192, 168, 1, 1}, key2[4] = {192, 168, 1, 2}, val[4] = {10, 0, 0, 1};

static void lookup_map(void) {
  str(NFTA_LOOKUP_SET, "m");
  be32(NFTA_LOOKUP_SREG, NFT_REG32_00);
}

static void zero_reg(void) {
  be32(NFTA_IMMEDIATE_DREG, NFT_REG32_00);
  size_t d = attr_start(NFTA_IMMEDIATE_DATA);
  attr(NFTA_DATA_VALUE, val, 4);
  attr_end(d);
}

static void payload_set(void) {
  be32(NFTA_PAYLOAD_SREG, NFT_REG32_00);
  be32(NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
  be32(NFTA_PAYLOAD_OFFSET, 1);
  be32(NFTA_PAYLOAD_LEN, 4);
}

static void get(int type, int flags, const char *t, const char *c, const char *what, int fd) {
  outlen = 0;
  size_t m = msg(nft(type), flags, NFPROTO_INET);
  if (t) str(type == NFT_MSG_GETTABLE ? NFTA_TABLE_NAME : NFTA_CHAIN_TABLE, t);
  if (c) str(type == NFT_MSG_GETRULE ? NFTA_RULE_CHAIN : NFTA_CHAIN_NAME, c);
  end(m);
  send_and_print(fd, what);
}

static uint32_t genid(int fd) {
  outlen = 0;
  end(msg(nft(NFT_MSG_GETGEN), 0, AF_UNSPEC));
  send(fd, out, outlen, 0);
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  if (n <= 0 || h->nlmsg_type != nft(NFT_MSG_NEWGEN)) return 0;
  struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg)));
  uint32_t v;
  memcpy(&v, (char *)a + NLA_HDRLEN, 4);
  return ntohl(v);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* Sentry only (it changes the ruleset of the namespace it starts in): `keep` adds a table to
   * the sandbox's first namespace, `netns` moves to a namespace of its own; both then wait on
   * stdin for a checkpoint to refuse them (tests/c/_ckpt.h). */
  if (argc > 1 && strcmp(argv[1], "keep") == 0) {
    int fd = sock();
    begin();
    table(NLM_F_CREATE, "kept", 0);
    finish();
    send_and_print(fd, "a table in the first namespace");
    await_checkpoint();
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "netns") == 0) {
    printf("unshare: %d\n", unshare(CLONE_NEWNET));
    await_checkpoint();
    return 0;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    printf("unshare(CLONE_NEWNET): %s\n", strerror(errno));
    return 0;
  }
  int fd = sock();
  uint32_t g0 = genid(fd);

  begin();
  table(NLM_F_CREATE, "t", 0);
  base_chain("t", "input", NF_DROP);
  rule("t", "input", "immediate", NF_ACCEPT);
  rule("t", "input", "immediate", NF_DROP);
  finish();
  send_and_print(fd, "add table, chain, two rules");
  printf("generation moved by %u\n", genid(fd) - g0);

  fam = NFPROTO_IPV4;
  begin();
  table(NLM_F_CREATE, "t4", 0);
  base_chain("t4", "input", NF_ACCEPT);
  addrtype_rule("t4", "input", 1, 0);
  finish();
  send_and_print(fd, "an ipv4 table with an addrtype match (nft_compat)");
  begin();
  addrtype_rule("t4", "input", 1, 8 /* XT_ADDRTYPE_LIMIT_IFACE_OUT on input */);
  addrtype_rule("t4", "input", 7, 0);
  finish();
  send_and_print(fd, "addrtype limited to the output interface on input, and of an unknown revision");
  outlen = 0;
  {
    size_t m = msg(nft(NFT_MSG_GETRULE), NLM_F_DUMP, NFPROTO_IPV4);
    end(m);
  }
  send_and_print(fd, "ipv4 rule dump");
  fam = NFPROTO_INET;

  get(NFT_MSG_GETTABLE, NLM_F_DUMP, NULL, NULL, "table dump", fd);
  get(NFT_MSG_GETCHAIN, 0, "t", "input", "get chain", fd);
  get(NFT_MSG_GETRULE, NLM_F_DUMP, NULL, NULL, "rule dump", fd);
  get(NFT_MSG_GETTABLE, NLM_F_ACK, "nope", NULL, "get missing table", fd);
  get(NFT_MSG_GETCHAIN, 0, "t", NULL, "get chain without a name", fd);

  begin();
  table(NLM_F_CREATE | NLM_F_EXCL, "t", 0);
  finish();
  send_and_print(fd, "table again with NLM_F_EXCL");

  begin();
  table(NLM_F_CREATE, "u", 0x80);
  finish();
  send_and_print(fd, "table with an unknown flag");

  begin();
  base_chain("nope", "c", NF_ACCEPT);
  finish();
  send_and_print(fd, "chain in a missing table");

  begin();
  table(NLM_F_CREATE, "v", 0);
  rule("t", "input", "no_such_expression", NF_ACCEPT);
  finish();
  send_and_print(fd, "a good table and a rule of an unknown expression");
  get(NFT_MSG_GETTABLE, 0, "v", NULL, "the good table was not committed", fd);

  outlen = 0;
  table(NLM_F_CREATE, "w", 0);
  send_and_print(fd, "newtable outside a batch");

  begin();
  {
    size_t m = msg(nft(NFT_MSG_DELTABLE), NLM_F_ACK | NLM_F_NONREC, NFPROTO_INET);
    str(NFTA_TABLE_NAME, "t");
    end(m);
  }
  finish();
  send_and_print(fd, "delete a table in use with NLM_F_NONREC");

  begin();
  {
    size_t m = msg(nft(NFT_MSG_DELTABLE), NLM_F_ACK, NFPROTO_INET);
    str(NFTA_TABLE_NAME, "t");
    end(m);
  }
  finish();
  send_and_print(fd, "delete the table");
  get(NFT_MSG_GETTABLE, NLM_F_DUMP, NULL, NULL, "table dump after", fd);

  int owner = sock();
  begin();
  table(NLM_F_CREATE, "owned", NFT_TABLE_F_OWNER);
  finish();
  send_and_print(owner, "an owned table");
  begin();
  table(0, "owned", NFT_TABLE_F_DORMANT | NFT_TABLE_F_OWNER);
  finish();
  send_and_print(fd, "another socket changes it");
  close(owner);
  get(NFT_MSG_GETTABLE, 0, "owned", NULL, "after its owner closed", fd);

  /* Expressions checked as their inits and validations check them; only the answers are
   * printed (Linux's module loading may replay a batch and use up more handles). */
  begin();
  table(NLM_F_CREATE, "x", 0);
  base_chain("x", "input", NF_ACCEPT);
  finish();
  send_and_print(fd, "a table for expressions");
  const struct {
    const char *what, *name;
    void (*fill)(void);
  } exprs[] = {
      {"ct state", "ct", ct_state},           {"ct without a key", "ct", ct_no_key},
      {"ct src without a direction", "ct", ct_src_no_dir}, {"ct key 256", "ct", ct_key_256},
      {"fib oif", "fib", fib_oif},             {"fib by both addresses", "fib", fib_both},
      {"masq in a filter chain", "masq", nothing}, {"masq from register 5", "masq", masq_reg5},
      {"payload at offset 65536", "payload", payload_off65536}, {"lookup in no set", "lookup", lookup_missing},
      {"cmp of a register nothing stored to", "cmp", cmp_uninit},
      {"payload at offset 65535", "payload", payload_off65535},
  };
  for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
    begin();
    expr_rule("x", "input", exprs[i].name, exprs[i].fill);
    finish();
    send_and_print(fd, exprs[i].what);
  }


  begin();
  binding_chain("x", 7);
  finish();
  send_and_print(fd, "a binding chain no rule binds (refused by the commit, on the batch's first message)");
  begin();
  binding_chain("x", 8);
  jump_rule("x", "input", 8);
  finish();
  send_and_print(fd, "a binding chain and a rule jumping to it");
  begin();
  {
    size_t m = msg(nft(NFT_MSG_DELRULE), NLM_F_ACK, fam);
    str(NFTA_RULE_TABLE, "x");
    str(NFTA_RULE_CHAIN, "input");
    end(m);
  }
  finish();
  send_and_print(fd, "flush the chain's rules");
  outlen = 0;
  end(msg(nft(NFT_MSG_GETCHAIN), NLM_F_DUMP, fam));
  send_and_print(fd, "chain dump: the binding chain went with its rule");

  begin();
  new_map("x", "m", 1);
  {
    size_t m = msg(nft(NFT_MSG_NEWSETELEM), NLM_F_ACK | NLM_F_CREATE, fam);
    str(NFTA_SET_ELEM_LIST_TABLE, "x");
    str(NFTA_SET_ELEM_LIST_SET, "m");
    size_t l = attr_start(NFTA_SET_ELEM_LIST_ELEMENTS);
    elem(key1, val);
    elem(NULL, val);
    attr_end(l);
    end(m);
  }
  finish();
  send_and_print(fd, "a map with an element and the catch-all");
  begin();
  new_map("x", "m", 2);
  {
    size_t m = msg(nft(NFT_MSG_NEWSETELEM), NLM_F_ACK | NLM_F_CREATE, fam);
    str(NFTA_SET_ELEM_LIST_TABLE, "x");
    str(NFTA_SET_ELEM_LIST_SET, "m");
    size_t l = attr_start(NFTA_SET_ELEM_LIST_ELEMENTS);
    elem(key2, NULL);
    attr_end(l);
    end(m);
  }
  finish();
  send_and_print(fd, "the map again, and an element without data");
  begin();
  {
    size_t m = msg(nft(NFT_MSG_DELSETELEM), NLM_F_ACK, fam);
    str(NFTA_SET_ELEM_LIST_TABLE, "x");
    str(NFTA_SET_ELEM_LIST_SET, "m");
    size_t l = attr_start(NFTA_SET_ELEM_LIST_ELEMENTS);
    elem(key2, NULL);
    attr_end(l);
    end(m);
  }
  finish();
  send_and_print(fd, "delete an element that is not there");
  outlen = 0;
  {
    size_t m = msg(nft(NFT_MSG_GETSETELEM), NLM_F_DUMP, fam);
    str(NFTA_SET_ELEM_LIST_TABLE, "x");
    str(NFTA_SET_ELEM_LIST_SET, "m");
    end(m);
  }
  send_and_print(fd, "element dump");
  for (int k = 0; k < 2; k++) {
    outlen = 0;
    size_t m = msg(nft(NFT_MSG_GETSETELEM), NLM_F_ACK, fam);
    str(NFTA_SET_ELEM_LIST_TABLE, "x");
    str(NFTA_SET_ELEM_LIST_SET, "m");
    size_t l = attr_start(NFTA_SET_ELEM_LIST_ELEMENTS);
    elem(k == 0 ? key1 : key2, NULL);
    attr_end(l);
    end(m);
    send_and_print(fd, k == 0 ? "get an element" : "get an element that is not there");
  }
  outlen = 0;
  end(msg(nft(NFT_MSG_GETSET), NLM_F_DUMP, fam));
  hide1 = NFTA_SET_HANDLE;
  hide2 = 19; /* NFTA_SET_TYPE */
  send_and_print(fd, "set dump");
  hide1 = hide2 = 0;
  begin();
  {
    size_t m = msg(nft(NFT_MSG_NEWRULE), NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, fam);
    str(NFTA_RULE_TABLE, "x");
    str(NFTA_RULE_CHAIN, "input");
    size_t l = attr_start(NFTA_RULE_EXPRESSIONS);
    size_t e = attr_start(NFTA_LIST_ELEM);
    str(NFTA_EXPR_NAME, "immediate");
    size_t d = attr_start(NFTA_EXPR_DATA);
    zero_reg();
    attr_end(d);
    attr_end(e);
    e = attr_start(NFTA_LIST_ELEM);
    str(NFTA_EXPR_NAME, "lookup");
    d = attr_start(NFTA_EXPR_DATA);
    lookup_map();
    attr_end(d);
    attr_end(e);
    attr_end(l);
    end(m);
  }
  finish();
  send_and_print(fd, "a rule looking the key up in the map");
  begin();
  {
    size_t m = msg(nft(NFT_MSG_DELSET), NLM_F_ACK, fam);
    str(NFTA_SET_TABLE, "x");
    str(NFTA_SET_NAME, "m");
    end(m);
  }
  finish();
  send_and_print(fd, "delete the map a rule uses");

  /* Rewriting packets (a payload set) from a rule: allowed here, EPERM from a user namespace of
   * its own (a child, so that this process keeps its namespaces). */
  for (int userns = 0; userns < 2; userns++) {
    pid_t pid = fork();
    if (pid == 0) {
      if (userns && unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
        printf("unshare(CLONE_NEWUSER | CLONE_NEWNET): %s\n", strerror(errno));
        _exit(0);
      }
      int f = sock();
      begin();
      table(NLM_F_CREATE, "p", 0);
      base_chain("p", "input", NF_ACCEPT);
      finish();
      send_and_print(f, userns ? "a table in a user namespace of its own" : "a table");
      begin();
      {
        size_t m = msg(nft(NFT_MSG_NEWRULE), NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, fam);
        str(NFTA_RULE_TABLE, "p");
        str(NFTA_RULE_CHAIN, "input");
        size_t l = attr_start(NFTA_RULE_EXPRESSIONS);
        size_t e = attr_start(NFTA_LIST_ELEM);
        str(NFTA_EXPR_NAME, "immediate");
        size_t d = attr_start(NFTA_EXPR_DATA);
        zero_reg();
        attr_end(d);
        attr_end(e);
        e = attr_start(NFTA_LIST_ELEM);
        str(NFTA_EXPR_NAME, "payload");
        d = attr_start(NFTA_EXPR_DATA);
        payload_set();
        attr_end(d);
        attr_end(e);
        attr_end(l);
        end(m);
      }
      finish();
      send_and_print(f, "a payload set");
      _exit(0);
    }
    waitpid(pid, NULL, 0);
  }

  /* Without CAP_NET_ADMIN even a dump is EPERM (nfnetlink_rcv), answered on the first message. */
  pid_t pid = fork();
  if (pid == 0) {
    if (setresuid(65534, 65534, 65534) != 0) _exit(1);
    int f = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    outlen = 0;
    end(msg(nft(NFT_MSG_GETTABLE), NLM_F_DUMP, fam));
    send_and_print(f, "a table dump without CAP_NET_ADMIN");
    begin();
    table(NLM_F_CREATE, "q", 0);
    finish();
    send_and_print(f, "a batch without CAP_NET_ADMIN");
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  return 0;
}
