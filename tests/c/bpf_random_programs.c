/* Random cgroup device programs, the same sequence natively and in the sentry:
 * 1. 2000 programs of up to 12 instructions of every class, jumps back and forth: each load's
 *    errno (the verifier's verdict);
 * 2. 150 programs that verify (context loads, 32- and 64-bit ALU of every kind with
 *    registers and immediates, signed division, sign-extending moves, byte swaps, forward
 *    jumps), each attached to a cgroup where a child opens five devices for reading and for
 *    writing and makes six device nodes: which of those the program refuses (EPERM).
 * Natively it runs as root in a mount namespace of its own, in a cgroup it makes under the
 * hierarchy's root (removed at the end). */
#define _GNU_SOURCE
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long long st = 1;
static unsigned rnd(void) { st = st * 6364136223846793005ULL + 1442695040888963407ULL; return st >> 33; }

static const unsigned char codes[] = {
  0x07,0x0f,0x17,0x1f,0x27,0x2f,0x37,0x3f,0x47,0x4f,0x57,0x5f,0x67,0x6f,0x77,0x7f,0x87,0x97,0x9f,0xa7,0xaf,0xb7,0xbf,0xc7,0xcf,0xd7,
  0x04,0x0c,0x14,0x24,0x34,0x3c,0x44,0x54,0x5c,0x64,0x74,0x84,0x94,0xa4,0xb4,0xbc,0xc4,0xd4,0xdc,
  0x05,0x15,0x1d,0x25,0x2d,0x35,0x3d,0x45,0x4d,0x55,0x5d,0x65,0x6d,0x75,0x7d,0xa5,0xad,0xb5,0xbd,0xc5,0xcd,0xd5,0xdd,0x95,
  0x16,0x1e,0x26,0x2e,0x56,0x5e,0xa6,0xb6,0x06,
  0x61,0x69,0x71,0x79,0x81,0x89,0x91,0x62,0x6a,0x72,0x7a,0x63,0x6b,0x73,0x7b,0x18,0x85,
};
static void verifier_outcomes(int n) {
  for (int k = 0; k < n; k++) {
    struct bpf_insn p[16];
    int len = 2 + rnd() % 10;
    for (int i = 0; i < len; i++) {
      struct bpf_insn *x = &p[i];
      memset(x, 0, sizeof *x);
      x->code = codes[rnd() % sizeof codes];
      unsigned r = rnd();
      x->dst_reg = (r % 8 == 0) ? 10 : (r % 11 == 0 ? 1 : rnd() % 6);
      x->src_reg = (rnd() % 4 == 0) ? (rnd() % 2 ? 10 : 1) : rnd() % 6;
      int offs[] = {0, 0, 0, 1, -1, 2, -2, 4, 8, -8, -4, -16, 3, 16, -512};
      x->off = offs[rnd() % 15];
      int imms[] = {0, 0, 1, 1, 2, -1, 4, 8, 16, 31, 32, 64, 0xffff, 3, 5, 100};
      x->imm = imms[rnd() % 16];
      if ((x->code & 7) == 5 || (x->code & 7) == 6) {
        if (x->code != 0x95 && x->code != 0x85) x->off = (int)(rnd() % 5) - 1;
        if (rnd() % 2) x->src_reg = 0;
        if ((x->code & 8) == 0) x->src_reg = 0;
        if (x->code == 0x95 || x->code == 0x05) { x->dst_reg = 0; x->src_reg = 0; x->imm = 0; }
      }
      if ((x->code & 7) == 7 || (x->code & 7) == 4) {
        if (x->code != 0x7 && (x->code & 8) == 0 && rnd() % 2) x->src_reg = 0;
        if ((x->code & 8) && rnd() % 2) x->imm = 0;
        if (rnd() % 2) x->off = 0;
      }
      if ((x->code & 7) == 1 && rnd() % 2) x->imm = 0;
      if ((x->code & 7) == 2) x->src_reg = 0;
      if ((x->code & 7) == 3 && rnd() % 2) x->imm = 0;
      if (x->code == 0x18 && i + 1 < len) { x->src_reg = 0; i++; memset(&p[i], 0, sizeof p[i]); p[i].imm = rnd() % 2; }
    }
    if (rnd() % 2) { p[len - 2].code = 0xb7; p[len - 2].dst_reg = 0; p[len-2].src_reg = 0; p[len-2].off = 0; p[len-2].imm = rnd() % 2; }
    p[len - 1] = (struct bpf_insn){0x95, 0, 0, 0, 0};
    union bpf_attr a; memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE; a.insn_cnt = len; a.insns = (unsigned long)p; a.license = (unsigned long)"GPL";
    int fd = syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof a);
    int e = errno;
    if (fd >= 0) close(fd);
    printf("%d %s", k, fd >= 0 ? "ok" : strerror(e));
    printf("\n");
  }
}

static struct bpf_insn I(int c, int d, int s, int o, int i) { struct bpf_insn x = {c, d, s, o, i}; return x; }
static const int R9[] = {0, 2, 3, 4, 5, 6, 7, 8, 9}, R5[] = {0, 2, 3, 4, 5}, RX[] = {2, 3, 4, 5, 6}, JK[] = {0, 1, 2, 3, 5, 7, -1};
static void device_verdicts(int n) {
  char mnt[] = "/tmp/ifz-XXXXXX"; mkdtemp(mnt);
  mount("none", mnt, "cgroup2", 0, NULL);
  char cgp[300], procs[320], node[64]; snprintf(cgp, sizeof cgp, "%s/ifz-%d", mnt, getpid()); mkdir(cgp, 0755);
  snprintf(procs, sizeof procs, "%s/cgroup.procs", cgp);
  char dir[] = "/tmp/ifzn-XXXXXX"; mkdtemp(dir); snprintf(node, sizeof node, "%s/n", dir);
  int cg = open(cgp, O_RDONLY | O_DIRECTORY);
  static const int aluops[] = {0x00,0x10,0x20,0x30,0x40,0x50,0x60,0x70,0x80,0x90,0xa0,0xb0,0xc0,0xd0};
  for (int k = 0; k < n; k++) {
    struct bpf_insn p[64]; int len = 0;
    p[len++] = I(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0);
    p[len++] = I(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 4, 0);
    p[len++] = I(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 8, 0);
    p[len++] = I(BPF_LDX | BPF_MEM | (rnd() % 2 ? BPF_H : BPF_B), 5, 1, rnd() % 2 ? 2 : 0, 0);
    for (int r = 6; r <= 9; r++) p[len++] = I(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, (int)rnd() - (1 << 30));
    p[len++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, rnd() % 7);
    int ops = 4 + rnd() % 14;
    for (int i = 0; i < ops; i++) {
      int cls = rnd() % 2 ? BPF_ALU64 : BPF_ALU;
      int op = aluops[rnd() % 14];
      int dst = R9[rnd() % 9];
      int src = R9[rnd() % 9];
      int x = rnd() % 2 ? BPF_X : BPF_K;
      int imm = (int[]){1, 2, 3, 5, 7, 16, 31, -1, -7, 0xff, 0x10000, 12345}[rnd() % 12];
      int off = 0;
      if (op == 0x80) { x = BPF_K; imm = 0; src = 0; }
      if (op == 0xd0) { x = cls == BPF_ALU64 ? BPF_K : (rnd() % 2 ? BPF_X : BPF_K); src = 0; imm = (int[]){16, 32, 64}[rnd() % 3]; }
      if (op == 0x60 || op == 0x70 || op == 0xc0) { if (x == BPF_K) imm = rnd() % (cls == BPF_ALU64 ? 64 : 32); }
      if ((op == 0x30 || op == 0x90) && rnd() % 3 == 0) off = 1;
      if ((op == 0x30 || op == 0x90) && x == BPF_K && imm == 0) imm = 3;
      if (op == 0xb0 && x == BPF_X && rnd() % 3 == 0) off = cls == BPF_ALU64 ? (int[]){8, 16, 32}[rnd() % 3] : (int[]){8, 16}[rnd() % 2];
      if (x == BPF_K && op != 0xd0) src = 0;
      if (x == BPF_X) { if (op != 0xd0) imm = 0; }
      p[len++] = I(cls | op | x, dst, src, off, imm);
      if (rnd() % 5 == 0) {
        int jop = (int[]){0x10,0x20,0x30,0x40,0x50,0x60,0x70,0xa0,0xb0,0xc0,0xd0}[rnd() % 11];
        int jcls = rnd() % 2 ? BPF_JMP : BPF_JMP32;
        int jx = rnd() % 2 ? BPF_X : BPF_K;
        p[len++] = I(jcls | jop | jx, R5[rnd() % 5], jx == BPF_X ? RX[rnd() % 5] : 0, 1, jx == BPF_K ? JK[rnd() % 7] : 0);
        p[len++] = I(BPF_ALU64 | BPF_XOR | BPF_K, 0, 0, 0, 1);
      }
    }
    p[len++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 0, R9[rnd() % 9], 0, 0);
    p[len++] = I(BPF_ALU64 | BPF_AND | BPF_K, 0, 0, 0, 1);
    p[len++] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    union bpf_attr a; memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE; a.insn_cnt = len; a.insns = (unsigned long)p; a.license = (unsigned long)"GPL";
    int fd = syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof a);
    if (fd < 0) { printf("%d load %s\n", k, strerror(errno)); continue; }
    memset(&a, 0, sizeof a);
    a.target_fd = cg; a.attach_bpf_fd = fd; a.attach_type = BPF_CGROUP_DEVICE; a.attach_flags = BPF_F_ALLOW_MULTI;
    if (syscall(__NR_bpf, BPF_PROG_ATTACH, &a, sizeof a)) { printf("%d attach %s\n", k, strerror(errno)); close(fd); continue; }
    int pipefd[2]; pipe(pipefd);
    pid_t pid = fork();
    if (pid == 0) {
      int f = open(procs, O_WRONLY); write(f, "0", 1); close(f);
      char res[32]; int m = 0;
      const char *devs[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};
      for (int d = 0; d < 5; d++) for (int w = 0; w < 2; w++) {
        int g = open(devs[d], w ? O_WRONLY : O_RDONLY);
        res[m++] = g >= 0 ? '.' : errno == EPERM ? 'P' : '?';
        if (g >= 0) close(g);
      }
      unsigned nums[][3] = {{S_IFCHR, 1, 3}, {S_IFCHR, 4, 64}, {S_IFBLK, 7, 0}, {S_IFBLK, 8, 17}, {S_IFCHR, 136, 2}, {S_IFCHR, 10, 200}};
      for (int d = 0; d < 6; d++) {
        int g = mknod(node, nums[d][0] | 0600, makedev(nums[d][1], nums[d][2]));
        res[m++] = g == 0 ? '.' : errno == EPERM ? 'P' : '?';
        unlink(node);
      }
      write(pipefd[1], res, m); _exit(0);
    }
    close(pipefd[1]);
    char res[33] = {0}; read(pipefd[0], res, 32); close(pipefd[0]);
    waitpid(pid, NULL, 0);
    printf("%d %s\n", k, res);
    memset(&a, 0, sizeof a);
    a.target_fd = cg; a.attach_bpf_fd = fd; a.attach_type = BPF_CGROUP_DEVICE;
    syscall(__NR_bpf, BPF_PROG_DETACH, &a, sizeof a);
    close(fd);
  }
  close(cg); rmdir(cgp); umount(mnt); rmdir(mnt); rmdir(dir);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 1;
  verifier_outcomes(2000);
  device_verdicts(150);
  return 0;
}
