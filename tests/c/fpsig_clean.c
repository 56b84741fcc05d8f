/*
 * A signal handler starts with the FP registers in their initial state (Linux's
 * fpu__clear_user_states): xmm0 zero, MXCSR 0x1f80, the x87 control word 0x37f, whatever the
 * interrupted code had. The frame holds the interrupted values, and what the handler writes
 * there is what sigreturn restores. Also across a fork in the handler (the child returns with
 * the frame's state too). Prints what it saw.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static volatile uint64_t in_xmm0, in_frame_xmm0;
static volatile uint32_t in_mxcsr;
static volatile uint16_t in_fcw;
static volatile int do_fork;
static volatile pid_t child;

static void handler(int sig, siginfo_t *si, void *ucv) {
  (void)sig;
  (void)si;
  uint64_t x;
  asm volatile("movq %%xmm0, %0" : "=r"(x));
  in_xmm0 = x;
  uint32_t m;
  asm volatile("stmxcsr %0" : "=m"(m));
  in_mxcsr = m;
  uint16_t cw;
  asm volatile("fnstcw %0" : "=m"(cw));
  in_fcw = cw;
  x = 0x1111;
  asm volatile("movq %0, %%xmm0" : : "r"(x));
  ucontext_t *uc = ucv;
  uint32_t *el = uc->uc_mcontext.fpregs->_xmm[0].element;
  in_frame_xmm0 = ((uint64_t)el[1] << 32) | el[0];
  el[0] = 0xbaad1dea;
  el[1] = 0xfacefeed;
  if (do_fork) child = fork();
}

static void run(int fork_in_handler) {
  do_fork = fork_in_handler;
  pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
  uint64_t v = 0xdeadbeeffacefeedULL;
  uint32_t mxcsr = 0x7f80 | 0x6000; /* round toward zero, all exceptions masked */
  uint16_t fcw = 0x0c7f;            /* x87: round toward zero */
  uint64_t got;
  long ret;
  asm volatile("ldmxcsr %0" : : "m"(mxcsr));
  asm volatile("fldcw %0" : : "m"(fcw));
  /* No call between setting xmm0 and reading it back: the raw syscall is inline. */
  asm volatile(
      "movq %[v], %%xmm0\n\t"
      "syscall\n\t"
      "movq %%xmm0, %[got]\n\t"
      : [got] "=r"(got), "=a"(ret)
      : [v] "r"(v), "a"((long)SYS_tgkill), "D"((long)pid), "S"((long)tid), "d"((long)SIGUSR1)
      : "rcx", "r11", "memory", "xmm0");
  uint32_t after_mxcsr;
  asm volatile("stmxcsr %0" : "=m"(after_mxcsr));
  uint16_t after_fcw;
  asm volatile("fnstcw %0" : "=m"(after_fcw));
  uint32_t dflt = 0x1f80;
  asm volatile("ldmxcsr %0" : : "m"(dflt));
  uint16_t dcw = 0x37f;
  asm volatile("fldcw %0" : : "m"(dcw));
  if (fork_in_handler && child == 0) {
    printf("child: xmm0 after %#llx mxcsr %#x fcw %#x\n", (unsigned long long)got, after_mxcsr, after_fcw);
    fflush(stdout);
    _exit(0);
  }
  if (fork_in_handler) waitpid(child, NULL, 0);
  printf("%s: ret %ld; in handler xmm0 %#llx mxcsr %#x fcw %#x; frame xmm0 %#llx; after xmm0 %#llx mxcsr %#x fcw %#x\n",
         fork_in_handler ? "fork" : "plain", ret, (unsigned long long)in_xmm0, in_mxcsr, in_fcw,
         (unsigned long long)in_frame_xmm0, (unsigned long long)got, after_mxcsr, after_fcw);
  fflush(stdout);
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  run(0);
  run(1);
  return 0;
}
