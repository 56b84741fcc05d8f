/* bpf(2) with cgroup device programs: BPF_PROG_LOAD and what the verifier refuses (with the
 * errno Linux gives), BPF_PROG_ATTACH/DETACH/QUERY with BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE
 * and BPF_F_REPLACE, the hierarchy's rules, BPF_PROG_GET_NEXT_ID/GET_FD_BY_ID,
 * BPF_OBJ_GET_INFO_BY_FD, /proc/PID/fdinfo, and the device checks the programs make of open(2),
 * access(2) and mknod(2) in the cgroup and below it. Natively it runs as root in a mount
 * namespace of its own, in cgroups it makes under the hierarchy's root (removed at the end). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include "_check.h"
#include "_ckpt.h"
#include "_cgroup.h"

/* The full union bpf_attr of Linux 6.18 (168 bytes), whatever the headers' size. */
static union {
  union bpf_attr a;
  char bytes[168];
} u;

static long bpf(int cmd, unsigned size) {
  return syscall(__NR_bpf, cmd, &u, size);
}

#define INSN(c, d, s, o, i) {(c), (d), (s), (o), (i)}
#define MOV_K(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define EXIT INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static char logbuf[4096];

/* BPF_PROG_LOAD of n instructions; log_level/size as given (log into logbuf). */
static long load_log(const struct bpf_insn *p, unsigned n, unsigned level, unsigned size) {
  memset(&u, 0, sizeof u);
  u.a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  u.a.insn_cnt = n;
  u.a.insns = (uintptr_t)p;
  u.a.license = (uintptr_t)"GPL";
  if (level) {
    u.a.log_level = level;
    u.a.log_size = size;
    u.a.log_buf = (uintptr_t)logbuf;
  }
  return bpf(BPF_PROG_LOAD, sizeof u);
}
#define LOAD(p) load_log((p), sizeof(p) / sizeof((p)[0]), 0, 0)
#define V(name, ...) do { struct bpf_insn p_[] = {__VA_ARGS__}; long fd_ = LOAD(p_); int e_ = errno; \
  if (fd_ >= 0) { close(fd_); } printf("%s = %ld %s\n", name, fd_ < 0 ? fd_ : 0, fd_ < 0 ? en(e_) : ""); } while (0)
/* A load's result: 0 or -1 with errno's name. */
static void loaded(const char *name, long fd) {
  int e = errno;
  if (fd >= 0) close(fd);
  printf("%s = %ld %s\n", name, fd < 0 ? fd : 0, fd < 0 ? en(e) : "");
}

static long attach(int prog, int cg, unsigned type, unsigned flags, int replace) {
  memset(&u, 0, sizeof u);
  u.a.target_fd = cg;
  u.a.attach_bpf_fd = prog;
  u.a.attach_type = type;
  u.a.attach_flags = flags;
  u.a.replace_bpf_fd = replace;
  return bpf(BPF_PROG_ATTACH, sizeof u);
}

static long detach(int prog, int cg) {
  memset(&u, 0, sizeof u);
  u.a.target_fd = cg;
  u.a.attach_bpf_fd = prog;
  u.a.attach_type = BPF_CGROUP_DEVICE;
  return bpf(BPF_PROG_DETACH, sizeof u);
}

static uint32_t ids[70];

/* Linux 6.15's ordering flags and fields, which older headers lack. */
#define F_BEFORE (1U << 3)
#define F_AFTER (1U << 4)
#define F_ID (1U << 5)
#define F_LINK (1U << 13)
#define F_PREORDER (1U << 6)

static long attach_rel(int prog, int cg, unsigned flags, uint32_t relative, uint64_t expected_revision) {
  memset(&u, 0, sizeof u);
  u.a.target_fd = cg;
  u.a.attach_bpf_fd = prog;
  u.a.attach_type = BPF_CGROUP_DEVICE;
  u.a.attach_flags = flags;
  memcpy(u.bytes + 20, &relative, 4);
  memcpy(u.bytes + 24, &expected_revision, 8);
  return bpf(BPF_PROG_ATTACH, sizeof u);
}

static uint32_t prog_id(int fd) {
  struct bpf_prog_info info;
  memset(&info, 0, sizeof info);
  memset(&u, 0, sizeof u);
  u.a.info.bpf_fd = fd;
  u.a.info.info_len = sizeof info;
  u.a.info.info = (uintptr_t)&info;
  bpf(BPF_OBJ_GET_INFO_BY_FD, sizeof u);
  return info.id;
}

/* The slot's programs in order, as letters of the programs in fds. */
static void order(const char *name, int cg, const int *fds, int n) {
  memset(&u, 0, sizeof u);
  u.a.query.target_fd = cg;
  u.a.query.attach_type = BPF_CGROUP_DEVICE;
  u.a.query.prog_ids = (uintptr_t)ids;
  u.a.query.prog_cnt = 70;
  bpf(BPF_PROG_QUERY, sizeof u);
  unsigned cnt = u.a.query.prog_cnt;
  printf("%s:", name);
  for (unsigned i = 0; i < cnt; i++) {
    char c = '?';
    for (int j = 0; j < n; j++) if (prog_id(fds[j]) == ids[i]) c = 'a' + j;
    printf(" %c", c);
  }
  printf("\n");
}

/* BPF_PROG_QUERY; prints the count and flags. */
static void query(const char *name, int cg, unsigned flags, unsigned cnt) {
  memset(&u, 0, sizeof u);
  u.a.query.target_fd = cg;
  u.a.query.attach_type = BPF_CGROUP_DEVICE;
  u.a.query.query_flags = flags;
  u.a.query.prog_ids = (uintptr_t)ids;
  u.a.query.prog_cnt = cnt;
  errno = 0;
  long r = bpf(BPF_PROG_QUERY, sizeof u);
  printf("%s = %ld %s cnt %u flags %u\n", name, r, r < 0 ? en(errno) : "", u.a.query.prog_cnt, u.a.query.attach_flags);
}

static uint64_t revision(int cg) {
  memset(&u, 0, sizeof u);
  u.a.query.target_fd = cg;
  u.a.query.attach_type = BPF_CGROUP_DEVICE;
  bpf(BPF_PROG_QUERY, sizeof u);
  uint64_t r;
  memcpy(&r, u.bytes + 56, 8);
  return r;
}

/* r0 = 1 */
static const struct bpf_insn allow_all[] = {MOV_K(0, 1), EXIT};
/* r0 = 0 */
static const struct bpf_insn deny_all[] = {MOV_K(0, 0), EXIT};
/* Refuses writes to the character device 1:3 (/dev/null). */
static const struct bpf_insn deny_null_write[] = {
  INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0),  /* r2 = access_type */
  INSN(BPF_ALU64 | BPF_MOV | BPF_X, 3, 2, 0, 0),
  INSN(BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff), /* type */
  INSN(BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, 0, 16),     /* access */
  INSN(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0),  /* major */
  INSN(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0),  /* minor */
  INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 6, BPF_DEVCG_DEV_CHAR),
  INSN(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 5, 1),
  INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 4, 3),
  INSN(BPF_JMP | BPF_JSET | BPF_K, 3, 0, 1, BPF_DEVCG_ACC_WRITE),
  INSN(BPF_JMP | BPF_JA, 0, 0, 2, 0),
  MOV_K(0, 0), /* 11 */
  INSN(BPF_JMP | BPF_JA, 0, 0, 1, 0),
  MOV_K(0, 1),
  EXIT,
};
/* Refuses every mknod (access & MKNOD), through a byte load of access_type's upper half. */
static const struct bpf_insn deny_mknod[] = {
  INSN(BPF_LDX | BPF_MEM | BPF_B, 2, 1, 2, 0), /* r2 = access (byte 2) */
  MOV_K(0, 1),
  INSN(BPF_JMP32 | BPF_JSET | BPF_K, 2, 0, 1, BPF_DEVCG_ACC_MKNOD),
  EXIT,
  MOV_K(0, 0),
  EXIT,
};
/* Refuses /dev/zero (1:5) in every way, keeping the decision on the stack. */
static const struct bpf_insn deny_zero[] = {
  INSN(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8, 1),          /* *(u64 *)(fp - 8) = 1 */
  INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 8, 0),           /* r2 = minor */
  INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 1, 5),
  INSN(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8, 0),
  INSN(BPF_LDX | BPF_MEM | BPF_DW, 0, 10, -8, 0),
  EXIT,
};

/* What runc generates (libcontainer/cgroups/devices/devicefilter.go) for the rules "c 1:3 rwm",
 * "c 1:5 rw", "c *:* m", everything else refused: 32-bit ALU, register compares. */
#define RUNC_ACCESS(acc, skip) \
  INSN(BPF_ALU | BPF_MOV | BPF_X, 1, 3, 0, 0), INSN(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, acc), \
  INSN(BPF_JMP | BPF_JNE | BPF_X, 1, 3, skip, 0)
static const struct bpf_insn runc_like[] = {
  INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0),
  INSN(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff),
  INSN(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0),
  INSN(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16),
  INSN(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0),
  INSN(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0),
  /* 6: c 1:3 rwm */
  INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 4, BPF_DEVCG_DEV_CHAR),
  INSN(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 3, 1),
  INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 2, 3),
  INSN(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 1),
  EXIT,
  /* 11: c 1:5 rw */
  INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 7, BPF_DEVCG_DEV_CHAR),
  RUNC_ACCESS(BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE, 4),
  INSN(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 3, 1),
  INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 2, 5),
  INSN(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 1),
  EXIT,
  /* 19: c *:* m */
  INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 5, BPF_DEVCG_DEV_CHAR),
  RUNC_ACCESS(BPF_DEVCG_ACC_MKNOD, 2),
  INSN(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 1),
  EXIT,
  /* 25: everything else */
  INSN(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 0),
  EXIT,
};

/* Allows root only: bpf_get_current_uid_gid()'s low half must be 0. */
static const struct bpf_insn root_only[] = {
  INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_current_uid_gid),
  INSN(BPF_ALU | BPF_MOV | BPF_X, 0, 0, 0, 0), /* w0 = w0: the uid */
  INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2, 0),
  MOV_K(0, 0),
  EXIT,
  MOV_K(0, 1),
  EXIT,
};

static int load_prog(const struct bpf_insn *p, unsigned n) {
  long fd = load_log(p, n, 0, 0);
  if (fd < 0) {
    printf("load failed: %s\n", en(errno));
    exit(1);
  }
  return fd;
}
#define PROG(p) load_prog((p), sizeof(p) / sizeof((p)[0]))

static void verifier(void) {
  V("allow all", MOV_K(0, 1), EXIT);
  V("deny all", MOV_K(0, 0), EXIT);
  loaded("deny_null_write", LOAD(deny_null_write));
  loaded("deny_mknod", LOAD(deny_mknod));
  loaded("deny_zero", LOAD(deny_zero));
  loaded("runc_like", LOAD(runc_like));
  V("no exit", MOV_K(0, 1));
  V("last insn not exit", EXIT, MOV_K(0, 1));
  V("jump out of range", MOV_K(0, 1), INSN(BPF_JMP | BPF_JA, 0, 0, 5, 0), EXIT);
  V("jump before start", MOV_K(0, 1), INSN(BPF_JMP | BPF_JA, 0, 0, -3, 0), EXIT);
  V("infinite loop", MOV_K(0, 1), INSN(BPF_JMP | BPF_JA, 0, 0, -1, 0), EXIT);
  V("loop on an unknown", INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 4, 0),
    INSN(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, -1, 7), MOV_K(0, 1), EXIT);
  V("bounded loop", MOV_K(0, 0), MOV_K(2, 10), INSN(BPF_ALU64 | BPF_SUB | BPF_K, 2, 0, 0, 1),
    INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, -2, 0), MOV_K(0, 1), EXIT);
  V("unreachable insn", MOV_K(0, 1), EXIT, MOV_K(0, 0), EXIT);
  V("uninitialised r2", INSN(BPF_ALU64 | BPF_MOV | BPF_X, 0, 2, 0, 0), EXIT);
  V("r0 never set", EXIT);
  V("unknown opcode", INSN(0xff, 0, 0, 0, 0), MOV_K(0, 1), EXIT);
  V("unknown ALU op", INSN(BPF_ALU64 | 0xe0 | BPF_K, 0, 0, 0, 0), MOV_K(0, 1), EXIT);
  V("register 11", MOV_K(11, 1), MOV_K(0, 1), EXIT);
  V("write r10", MOV_K(10, 1), MOV_K(0, 1), EXIT);
  V("mov reserved src", INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 1, 0, 1), EXIT);
  V("div by zero", MOV_K(0, 1), INSN(BPF_ALU64 | BPF_DIV | BPF_K, 0, 0, 0, 0), EXIT);
  V("div by zero register", MOV_K(0, 1), MOV_K(2, 0), INSN(BPF_ALU64 | BPF_DIV | BPF_X, 0, 2, 0, 0), EXIT);
  V("shift by 64", MOV_K(0, 1), INSN(BPF_ALU64 | BPF_LSH | BPF_K, 0, 0, 0, 64), EXIT);
  V("return 2", MOV_K(0, 2), EXIT);
  V("return -1", MOV_K(0, -1), EXIT);
  V("return major", INSN(BPF_LDX | BPF_MEM | BPF_W, 0, 1, 4, 0), EXIT);
  V("return major & 1", INSN(BPF_LDX | BPF_MEM | BPF_W, 0, 1, 4, 0), INSN(BPF_ALU64 | BPF_AND | BPF_K, 0, 0, 0, 1), EXIT);
  V("return minor > 1 ? 0 : minor", INSN(BPF_LDX | BPF_MEM | BPF_W, 0, 1, 8, 0),
    INSN(BPF_JMP | BPF_JLE | BPF_K, 0, 0, 1, 1), MOV_K(0, 0), EXIT);
  V("return the context", INSN(BPF_ALU64 | BPF_MOV | BPF_X, 0, 1, 0, 0), EXIT);
  V("ctx read off 12", INSN(BPF_LDX | BPF_MEM | BPF_W, 0, 1, 12, 0), MOV_K(0, 1), EXIT);
  V("ctx read major as u16", INSN(BPF_LDX | BPF_MEM | BPF_H, 0, 1, 4, 0), MOV_K(0, 1), EXIT);
  V("ctx read access_type as u16", INSN(BPF_LDX | BPF_MEM | BPF_H, 0, 1, 2, 0), MOV_K(0, 1), EXIT);
  V("ctx read misaligned u16", INSN(BPF_LDX | BPF_MEM | BPF_H, 0, 1, 1, 0), MOV_K(0, 1), EXIT);
  V("ctx read u64", INSN(BPF_LDX | BPF_MEM | BPF_DW, 0, 1, 0, 0), MOV_K(0, 1), EXIT);
  V("ctx read negative", INSN(BPF_LDX | BPF_MEM | BPF_W, 0, 1, -4, 0), MOV_K(0, 1), EXIT);
  V("ctx write", MOV_K(0, 1), INSN(BPF_STX | BPF_MEM | BPF_W, 1, 0, 0, 0), EXIT);
  V("ctx store immediate", INSN(BPF_ST | BPF_MEM | BPF_W, 1, 0, 0, 1), MOV_K(0, 1), EXIT);
  V("modified ctx read", INSN(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, 4), INSN(BPF_LDX | BPF_MEM | BPF_W, 0, 1, 0, 0),
    MOV_K(0, 1), EXIT);
  V("ctx pointer and", INSN(BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, 4), MOV_K(0, 1), EXIT);
  V("ctx pointer 32-bit add", INSN(BPF_ALU | BPF_ADD | BPF_K, 1, 0, 0, 4), MOV_K(0, 1), EXIT);
  V("read of a scalar", MOV_K(2, 0), INSN(BPF_LDX | BPF_MEM | BPF_W, 0, 2, 0, 0), MOV_K(0, 1), EXIT);
  V("stack spill and fill", INSN(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8, 0), INSN(BPF_LDX | BPF_MEM | BPF_DW, 2, 10, -8, 0),
    INSN(BPF_LDX | BPF_MEM | BPF_W, 0, 2, 4, 0), INSN(BPF_ALU64 | BPF_AND | BPF_K, 0, 0, 0, 1), EXIT);
  V("stack write at fp", INSN(BPF_ST | BPF_MEM | BPF_DW, 10, 0, 0, 0), MOV_K(0, 1), EXIT);
  V("stack write below 512", INSN(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -520, 0), MOV_K(0, 1), EXIT);
  V("stack misaligned", INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -6, 0), MOV_K(0, 1), EXIT);
  V("partial fill of a spilled pointer", INSN(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8, 0),
    INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 10, -8, 0), MOV_K(0, 1), EXIT);
  V("ld_imm64", INSN(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 1), INSN(0, 0, 0, 0, 0), EXIT);
  V("ld_imm64 high bits", INSN(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 1), INSN(0, 0, 0, 0, 1), EXIT);
  V("ld_imm64 cut short", MOV_K(0, 1), INSN(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 1), EXIT);
  V("ld_imm64 map fd 99", INSN(BPF_LD | BPF_IMM | BPF_DW, 0, 1, 0, 99), INSN(0, 0, 0, 0, 0), MOV_K(0, 1), EXIT);
  V("ld_imm64 map fd 0", INSN(BPF_LD | BPF_IMM | BPF_DW, 0, 1, 0, 0), INSN(0, 0, 0, 0, 0), MOV_K(0, 1), EXIT);
  V("jump into ld_imm64", INSN(BPF_JMP | BPF_JA, 0, 0, 1, 0), INSN(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 1),
    INSN(0, 0, 0, 0, 0), EXIT);
  V("ld_abs", INSN(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, 0), MOV_K(0, 1), EXIT);
  V("call an unknown helper", INSN(BPF_JMP | BPF_CALL, 0, 0, 0, 100000), MOV_K(0, 1), EXIT);
  V("call a helper of another type", INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_load_bytes), MOV_K(0, 1), EXIT);
  V("a helper clobbers r1", INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32),
    INSN(BPF_ALU64 | BPF_MOV | BPF_X, 0, 1, 0, 0), EXIT);
  V("a helper's result is unknown", INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ktime_get_ns), EXIT);
  V("a helper's result masked", INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_current_pid_tgid),
    INSN(BPF_ALU64 | BPF_AND | BPF_K, 0, 0, 0, 1), EXIT);
  loaded("root_only", LOAD(root_only));
  V("spill a pointer in 4 bytes", INSN(BPF_STX | BPF_MEM | BPF_W, 10, 1, -8, 0), MOV_K(0, 1), EXIT);
  V("exit reserved", MOV_K(0, 1), INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 1));
  V("jmp reserved", MOV_K(0, 1), INSN(BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 0, 1), EXIT);
  V("ctx compared with 0: both sides walked", INSN(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1, 0), MOV_K(0, 1), EXIT);
  V("ctx compared with 0 in 32 bits", INSN(BPF_JMP32 | BPF_JEQ | BPF_K, 1, 0, 1, 0), MOV_K(0, 1), EXIT);
  V("ctx not 0", MOV_K(0, 1), INSN(BPF_JMP | BPF_JNE | BPF_K, 1, 0, 1, 0), INSN(BPF_ALU64 | BPF_MOV | BPF_X, 0, 5, 0, 0), EXIT);
  V("jmp32 on r0", MOV_K(0, 1), INSN(BPF_JMP32 | BPF_JGT | BPF_K, 0, 0, 0, 5), EXIT);
  V("alu32 and byte swap", MOV_K(0, 0x100), INSN(BPF_ALU | BPF_END | BPF_TO_BE, 0, 0, 0, 16),
    INSN(BPF_ALU | BPF_AND | BPF_K, 0, 0, 0, 1), EXIT);
  V("neg reserved", MOV_K(0, 1), INSN(BPF_ALU64 | BPF_NEG | BPF_K, 0, 0, 0, 1), EXIT);
  V("end reserved", MOV_K(0, 1), INSN(BPF_ALU | BPF_END | BPF_TO_LE, 0, 0, 0, 8), EXIT);

  struct bpf_insn ok[] = {MOV_K(0, 1), EXIT};
  struct bpf_insn bad[] = {EXIT};
  loaded("insn_cnt 0", load_log(ok, 0, 0, 0));
  loaded("insn_cnt too large", load_log(ok, 1000001, 0, 0));
  memset(&u, 0, sizeof u);
  u.a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE; u.a.insn_cnt = 2; u.a.license = (uintptr_t)"GPL";
  R("insns NULL", bpf(BPF_PROG_LOAD, sizeof u));
  u.a.insns = (uintptr_t)ok; u.a.license = 0;
  R("license NULL", bpf(BPF_PROG_LOAD, sizeof u));
  u.a.license = (uintptr_t)"GPL";
  u.a.prog_type = 0;
  R("type UNSPEC", bpf(BPF_PROG_LOAD, sizeof u));
  u.a.prog_type = 10000;
  R("type 10000", bpf(BPF_PROG_LOAD, sizeof u));
  u.a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  u.a.prog_flags = 0xffffffff;
  R("bad prog_flags", bpf(BPF_PROG_LOAD, sizeof u));
  u.a.prog_flags = 0;
  {
    /* BTF and fd arrays: fields the headers may lack, by offset. */
    static const struct { const char *name; int off; } f[] = {
      {"func_info_cnt 1", 88}, {"line_info_cnt 1", 104}, {"core_relo_cnt 1", 116}, {"fd_array_cnt 1", 148},
      {"prog_ifindex 1", 64}, {"attach_btf_id 1", 108}, {"attach_prog_fd 1", 112},
    };
    for (unsigned i = 0; i < sizeof f / sizeof f[0]; i++) {
      uint32_t one = 1, zero = 0;
      memcpy(u.bytes + f[i].off, &one, 4);
      loaded(f[i].name, bpf(BPF_PROG_LOAD, sizeof u));
      memcpy(u.bytes + f[i].off, &zero, 4);
    }
  }
  strcpy(u.a.prog_name, "bad-name");
  R("bad name", bpf(BPF_PROG_LOAD, sizeof u));
  strcpy(u.a.prog_name, "good_name.1");
  long fd = bpf(BPF_PROG_LOAD, sizeof u);
  printf("good name = %ld\n", fd < 0 ? fd : 0);
  if (fd >= 0) {
    int fl = fcntl(fd, F_GETFD);
    printf("  cloexec %d\n", (fl & FD_CLOEXEC) != 0);
    printf("  status flags %o\n", fcntl(fd, F_GETFL) & ~O_LARGEFILE);
    char c;
    R("read a program", read(fd, &c, 1));
    R("write a program", write(fd, "x", 1));
    R("lseek a program", lseek(fd, 0, SEEK_SET));
    struct stat sb;
    R("fstat a program", fstat(fd, &sb));
    printf("  mode %o size %lld\n", sb.st_mode, (long long)sb.st_size);
    char path[64], link[64] = {0};
    snprintf(path, sizeof path, "/proc/self/fd/%ld", fd);
    R("readlink", readlink(path, link, sizeof link - 1) > 0 ? 0 : -1);
    printf("  %s\n", link);
    snprintf(path, sizeof path, "/proc/self/fdinfo/%ld", fd);
    FILE *f = fopen(path, "r");
    char line[128];
    while (f && fgets(line, sizeof line, f)) {
      if (!strncmp(line, "prog_type:", 10) || !strncmp(line, "prog_tag:", 9) || !strncmp(line, "verified_insns:", 15)) {
        printf("  %s", line);
      }
    }
    if (f) fclose(f);
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    struct bpf_insn xl[4];
    info.xlated_prog_len = sizeof xl;
    info.xlated_prog_insns = (uintptr_t)xl;
    memset(&u, 0, sizeof u);
    u.a.info.bpf_fd = fd;
    u.a.info.info_len = sizeof info;
    u.a.info.info = (uintptr_t)&info;
    R("info", bpf(BPF_OBJ_GET_INFO_BY_FD, sizeof u));
    printf("  type %u name %s xlated_len %u insn0 %02x imm %d jited? %d\n", info.type, info.name, info.xlated_prog_len,
           xl[0].code, xl[0].imm, 0);
    uint32_t id = info.id;
    memset(&u, 0, sizeof u);
    u.a.prog_id = id;
    long fd2 = bpf(BPF_PROG_GET_FD_BY_ID, sizeof u);
    printf("get fd by id = %ld\n", fd2 < 0 ? fd2 : 0);
    memset(&info, 0, sizeof info);
    memset(&u, 0, sizeof u);
    u.a.info.bpf_fd = fd2;
    u.a.info.info_len = sizeof info;
    u.a.info.info = (uintptr_t)&info;
    bpf(BPF_OBJ_GET_INFO_BY_FD, sizeof u);
    printf("  same id %d\n", info.id == id);
    close(fd2);
    memset(&u, 0, sizeof u);
    u.a.start_id = id - 1;
    R("get next id", bpf(BPF_PROG_GET_NEXT_ID, sizeof u));
    printf("  next is it %d\n", u.a.next_id == id);
    memset(&u, 0, sizeof u);
    u.a.info.bpf_fd = 0;
    u.a.info.info_len = sizeof info;
    u.a.info.info = (uintptr_t)&info;
    R("info of stdin", bpf(BPF_OBJ_GET_INFO_BY_FD, sizeof u));
    close(fd);
    memset(&u, 0, sizeof u);
    u.a.prog_id = id;
    R("get fd by id after close", bpf(BPF_PROG_GET_FD_BY_ID, sizeof u));
  }

  loaded("log level without buffer", load_log(ok, 2, 1, 0));
  memset(&u, 0, sizeof u);
  u.a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE; u.a.insn_cnt = 2; u.a.insns = (uintptr_t)ok; u.a.license = (uintptr_t)"GPL";
  u.a.log_buf = (uintptr_t)logbuf; u.a.log_size = sizeof logbuf;
  R("log buffer without level", bpf(BPF_PROG_LOAD, sizeof u));
  u.a.log_level = 1; u.a.log_size = 0;
  R("log buffer without size", bpf(BPF_PROG_LOAD, sizeof u));
  u.a.log_level = 0x100; u.a.log_size = sizeof logbuf;
  R("log level 0x100", bpf(BPF_PROG_LOAD, sizeof u));
  memset(logbuf, 'x', sizeof logbuf);
  loaded("refused with a log", load_log(bad, 1, 1, sizeof logbuf));
  printf("  log ends with a newline and NUL: %d\n", strlen(logbuf) > 0 && logbuf[strlen(logbuf) - 1] == '\n');
  loaded("refused with a small log", load_log(bad, 1, 1, 4));
  printf("  log length %zu\n", strlen(logbuf));
  loaded("loaded with a small log", load_log(ok, 2, 1, 4));
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "hold") == 0) {
    /* For the checkpoint test: hold a program until stdin ends (tests/c/_ckpt.h). */
    int fd = PROG(allow_all);
    printf("holding\n");
    await_checkpoint();
    close(fd);
    printf("done\n");
    return 0;
  }
  if (private_mount_dir("bpfcg") != 0) return 1;
  verifier();

  R("mount", mount("none", mnt, "cgroup2", 0, NULL));
  name_base("sentry-bpf-test");
  R("mkdir base", mkdir(base, 0755));
  R("mkdir base/a", mkdir(at("a"), 0755));
  R("mkdir base/a/b", mkdir(at("a/b"), 0755));
  int cg = open(base, O_RDONLY | O_DIRECTORY);
  int cga = open(at("a"), O_RDONLY | O_DIRECTORY);
  int cgb = open(at("a/b"), O_RDONLY | O_DIRECTORY);
  int devnull = open("/dev/null", O_RDONLY);
  int procs = open(at("cgroup.procs"), O_RDONLY);

  int p1 = PROG(allow_all), p2 = PROG(allow_all), p3 = PROG(deny_all);
  query("query empty", cg, 0, 4);
  printf("  revision %llu\n", (unsigned long long)revision(cg));
  R("attach a non-program", attach(devnull, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  R("attach to /dev/null", attach(p1, devnull, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  R("attach to cgroup.procs", attach(p1, procs, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  R("attach to a closed fd", attach(p1, 999, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  int cgpath = open(base, O_PATH | O_DIRECTORY);
  R("attach to an O_PATH cgroup", attach(p1, cgpath, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  query("query an O_PATH cgroup", cgpath, 0, 4);
  close(cgpath);
  int cgw = open(base, O_RDONLY | O_DIRECTORY);
  R("attach through a second descriptor", attach(p1, cgw, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  R("detach through the first", detach(p1, cg));
  close(cgw);
  R("attach as INET_INGRESS", attach(p1, cg, BPF_CGROUP_INET_INGRESS, BPF_F_ALLOW_MULTI, 0));
  R("attach type 200", attach(p1, cg, 200, 0, 0));
  R("attach multi|override", attach(p1, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | BPF_F_ALLOW_OVERRIDE, 0));
  R("attach flag 1<<20", attach(p1, cg, BPF_CGROUP_DEVICE, 1 << 20, 0));
  R("attach replace without multi", attach(p1, cg, BPF_CGROUP_DEVICE, BPF_F_REPLACE, p2));
  R("attach replace, target /dev/null", attach(p1, devnull, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, 0));
  R("attach p1 multi", attach(p1, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  printf("  revision %llu\n", (unsigned long long)revision(cg));
  R("attach p1 multi again", attach(p1, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  R("attach p2 without flags", attach(p2, cg, BPF_CGROUP_DEVICE, 0, 0));
  R("attach p2 override", attach(p2, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_OVERRIDE, 0));
  R("attach p2 multi", attach(p2, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  query("query two", cg, 0, 4);
  query("query one slot", cg, 0, 1);
  query("query count only", cg, 0, 0);
  R("replace p3 (not attached) by p1", attach(p1, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, p3));
  R("replace p1 by p3", attach(p3, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, p1));
  query("query after replace", cg, 0, 4);
  R("replace p3 by p1 again", attach(p1, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, p3));
  R("detach p3 (not attached)", detach(p3, cg));
  R("detach with no program", detach(-1, cg));
  R("detach p2", detach(p2, cg));
  R("detach from /dev/null", detach(p1, devnull));
  query("query after detach", cg, 0, 4);
  query("query a (empty)", cga, 0, 4);
  query("query a effective", cga, BPF_F_QUERY_EFFECTIVE, 4);
  R("attach under a multi parent", attach(p2, cga, BPF_CGROUP_DEVICE, 0, 0));
  query("query b effective", cgb, BPF_F_QUERY_EFFECTIVE, 4);
  R("attach below a non-overridable", attach(p3, cgb, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  R("detach a's program with another fd", detach(p3, cga));
  query("query a after", cga, 0, 4);
  R("attach a override", attach(p2, cga, BPF_CGROUP_DEVICE, BPF_F_ALLOW_OVERRIDE, 0));
  R("attach b under override", attach(p3, cgb, BPF_CGROUP_DEVICE, 0, 0));
  query("query b effective", cgb, BPF_F_QUERY_EFFECTIVE, 4);
  R("attach a again without override", attach(p1, cga, BPF_CGROUP_DEVICE, 0, 0));
  R("attach a replacing with override", attach(p1, cga, BPF_CGROUP_DEVICE, BPF_F_ALLOW_OVERRIDE, 0));
  query("query a", cga, 0, 4);
  R("detach b", detach(-1, cgb));
  R("detach a", detach(-1, cga));
  R("detach a again", detach(-1, cga));
  R("detach base", detach(p1, cg));
  query("query base", cg, BPF_F_QUERY_EFFECTIVE, 4);

  /* Order in a slot: BPF_F_BEFORE / BPF_F_AFTER, relative to a descriptor or an ID. */
  {
    int o[5];
    for (int i = 0; i < 5; i++) o[i] = PROG(allow_all);
    R("a", attach_rel(o[0], cga, BPF_F_ALLOW_MULTI, 0, 0));
    R("b before everything", attach_rel(o[1], cga, BPF_F_ALLOW_MULTI | F_BEFORE, 0, 0));
    R("c after a", attach_rel(o[2], cga, BPF_F_ALLOW_MULTI | F_AFTER, o[0], 0));
    R("d before the ID of a", attach_rel(o[3], cga, BPF_F_ALLOW_MULTI | F_BEFORE | F_ID, prog_id(o[0]), 0));
    order("order", cga, o, 5);
    R("e with a stale revision", attach_rel(o[4], cga, BPF_F_ALLOW_MULTI, 0, 99));
    R("e relative to a, no side", attach_rel(o[4], cga, BPF_F_ALLOW_MULTI, o[0], 0));
    R("e before and after", attach_rel(o[4], cga, BPF_F_ALLOW_MULTI | F_BEFORE | F_AFTER, o[0], 0));
    R("e after itself (not attached)", attach_rel(o[4], cga, BPF_F_ALLOW_MULTI | F_AFTER, o[4], 0));
    R("e before, without multi", attach_rel(o[4], cga, F_BEFORE, 0, 0));
    R("e relative to a link", attach_rel(o[4], cga, BPF_F_ALLOW_MULTI | F_LINK | F_BEFORE, o[0], 0));
    R("e by ID, no side", attach_rel(o[4], cga, BPF_F_ALLOW_MULTI | F_ID, prog_id(o[0]), 0));
    R("e preorder", attach_rel(o[4], cga, BPF_F_ALLOW_MULTI | F_PREORDER, 0, revision(cga)));
    order("order", cga, o, 5);
    for (int i = 0; i < 5; i++) {
      detach(o[i], cga);
      close(o[i]);
    }
    query("query a after", cga, 0, 4);
  }

  /* Without privilege: attach by fd works, query and load do not. */
  pid_t pid = fork();
  if (pid == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    R("drop capabilities", syscall(SYS_capset, &h, d));
    loaded("load unprivileged", LOAD(allow_all));
    R("attach unprivileged", attach(p1, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
    query("query unprivileged", cg, 0, 4);
    R("detach unprivileged", detach(p1, cg));
    memset(&u, 0, sizeof u);
    R("map create unprivileged", bpf(BPF_MAP_CREATE, sizeof u));
    _exit(0);
  }
  waitpid(pid, NULL, 0);

  /* attr sizes. */
  R("attr of a megabyte", syscall(__NR_bpf, BPF_PROG_ATTACH, &u, 1 << 20));
  {
    static char big[4096 + 8];
    memset(big, 0, sizeof big);
    R("attr of a page, zero", syscall(__NR_bpf, BPF_PROG_QUERY, big, 4096));
    big[200] = 1;
    R("attr of a page, non-zero tail", syscall(__NR_bpf, BPF_PROG_QUERY, big, 4096));
    memset(big, 0, sizeof big);
    big[40] = 1;
    R("attach with a non-zero tail", syscall(__NR_bpf, BPF_PROG_ATTACH, big, 64));
  }
  R("unknown command", syscall(__NR_bpf, 1000, &u, sizeof u));

  /* Device checks, in a child process moved into a. */
  int pnull = PROG(deny_null_write), pmknod = PROG(deny_mknod), pzero = PROG(deny_zero), prunc = PROG(runc_like), proot = PROG(root_only);
  R("attach deny_null_write to base (multi)", attach(pnull, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  R("attach deny_zero to a (multi)", attach(pzero, cga, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  char dir[] = "/tmp/bpfdev-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  char node[64];
  snprintf(node, sizeof node, "%s/n", dir);
  for (int round = 0; round < 4; round++) {
    pid = fork();
    if (pid == 0) {
      R("  join a", put(at("a/cgroup.procs"), "0"));
      int fd;
      R("  open /dev/null O_RDONLY", (fd = open("/dev/null", O_RDONLY)) < 0 ? -1 : 0);
      if (fd >= 0) close(fd);
      R("  open /dev/null O_WRONLY", (fd = open("/dev/null", O_WRONLY)) < 0 ? -1 : 0);
      if (fd >= 0) close(fd);
      R("  open /dev/null O_RDWR", (fd = open("/dev/null", O_RDWR)) < 0 ? -1 : 0);
      if (fd >= 0) close(fd);
      R("  open /dev/null O_PATH", (fd = open("/dev/null", O_PATH)) < 0 ? -1 : 0);
      if (fd >= 0) close(fd);
      R("  open /dev/zero", (fd = open("/dev/zero", O_RDONLY)) < 0 ? -1 : 0);
      if (fd >= 0) close(fd);
      R("  open /dev/full", (fd = open("/dev/full", O_RDONLY)) < 0 ? -1 : 0);
      if (fd >= 0) close(fd);
      R("  access /dev/null W_OK", access("/dev/null", W_OK));
      R("  access /dev/null R_OK", access("/dev/null", R_OK));
      R("  access /dev/zero F_OK", access("/dev/zero", F_OK));
      R("  mknod c 1:3", mknod(node, S_IFCHR | 0600, makedev(1, 3)));
      unlink(node);
      R("  mknod c 1:5", mknod(node, S_IFCHR | 0600, makedev(1, 5)));
      unlink(node);
      R("  mknod b 7:0", mknod(node, S_IFBLK | 0600, makedev(7, 0)));
      unlink(node);
      R("  mknod fifo", mknod(node, S_IFIFO | 0600, 0));
      unlink(node);
      _exit(0);
    }
    waitpid(pid, NULL, 0);
    if (round == 0) {
      printf("with mknod refused in b, the child in a:\n");
      R("attach deny_mknod to b", attach(pmknod, cgb, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
      R("attach deny_mknod to a", attach(pmknod, cga, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
    } else if (round == 1) {
      printf("with the programs detached:\n");
      R("detach deny_null_write", detach(pnull, cg));
      R("detach deny_zero", detach(pzero, cga));
      R("detach deny_mknod", detach(pmknod, cga));
    } else if (round == 2) {
      printf("with runc's kind of program on a:\n");
      R("attach runc_like to a", attach(prunc, cga, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
      R("attach root_only to a", attach(proot, cga, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
    }
  }
  R("attach deny_null_write to b again", attach(pnull, cgb, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0));
  rmdir(dir);
  close(cg);
  close(cga);
  close(cgb);
  R("rmdir base/a/b with a program", rmdir(at("a/b")));
  R("rmdir base/a", rmdir(at("a")));
  R("rmdir base", rmdir(base));
  umount(mnt);
  rmdir(mnt);
  return 0;
}
