/*
 * The vDSO, as a program sees it: AT_SYSINFO_EHDR points at an ELF image exporting Linux's
 * functions under LINUX_2.6 (found by walking its dynamic symbols, which works in static and
 * dynamic programs alike); clocks read through it (libc's clock_gettime) and through the system
 * call interleave without going back; realtime, gettimeofday and time agree; what the page
 * cannot answer (CPU clocks, a bad clock id) still works; [vvar] cannot be made writable;
 * forks keep a working vDSO. Prints `realtime_ns=N` last for the caller to compare with the
 * host's clock. Output otherwise the same natively and in the sentry.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *yes(int b) { return b ? "yes" : "NO"; }

static const Elf64_Ehdr *vdso;

/* The address of a versioned symbol of the vDSO, or NULL. */
static void *vdso_sym(const char *name, const char *version) {
  const Elf64_Phdr *ph = (const void *)((const char *)vdso + vdso->e_phoff);
  uintptr_t base = 0, dyn = 0;
  int have_base = 0;
  for (int i = 0; i < vdso->e_phnum; i++) {
    if (ph[i].p_type == PT_LOAD && !have_base) {
      base = (uintptr_t)vdso + ph[i].p_offset - ph[i].p_vaddr;
      have_base = 1;
    }
    if (ph[i].p_type == PT_DYNAMIC) dyn = ph[i].p_vaddr;
  }
  if (!dyn) return NULL;
  const Elf64_Sym *sym = NULL;
  const char *str = NULL;
  const Elf64_Half *versym = NULL;
  const Elf64_Verdef *verdef = NULL;
  const Elf32_Word *hash = NULL;
  for (const Elf64_Dyn *d = (const void *)(base + dyn); d->d_tag != DT_NULL; d++) {
    uintptr_t p = base + d->d_un.d_ptr;
    if (d->d_tag == DT_SYMTAB) sym = (const void *)p;
    if (d->d_tag == DT_STRTAB) str = (const void *)p;
    if (d->d_tag == DT_VERSYM) versym = (const void *)p;
    if (d->d_tag == DT_VERDEF) verdef = (const void *)p;
    if (d->d_tag == DT_HASH) hash = (const void *)p;
  }
  if (!sym || !str || !versym || !verdef || !hash) return NULL;
  for (Elf32_Word i = 0; i < hash[1]; i++) {
    if (sym[i].st_shndx == SHN_UNDEF || strcmp(str + sym[i].st_name, name) != 0) continue;
    const Elf64_Verdef *v = verdef;
    for (;;) {
      if (v->vd_ndx == (versym[i] & 0x7fff)) {
        const Elf64_Verdaux *a = (const void *)((const char *)v + v->vd_aux);
        if (strcmp(str + a->vda_name, version) == 0) return (void *)(base + sym[i].st_value);
      }
      if (!v->vd_next) break;
      v = (const void *)((const char *)v + v->vd_next);
    }
  }
  return NULL;
}

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

static int64_t sys_clock(clockid_t c) {
  struct timespec t;
  if (syscall(SYS_clock_gettime, c, &t) != 0) return -1;
  return ns_of(t);
}

static int64_t libc_clock(clockid_t c) {
  struct timespec t;
  if (clock_gettime(c, &t) != 0) return -1;
  return ns_of(t);
}

int main(void) {
  vdso = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
  printf("AT_SYSINFO_EHDR is an ELF image: %s\n", yes(vdso && memcmp(vdso->e_ident, ELFMAG, SELFMAG) == 0));
  if (!vdso) return 1;
  static const char *names[] = {"clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres"};
  for (int i = 0; i < 5; i++) {
    char prefixed[64];
    snprintf(prefixed, sizeof prefixed, "__vdso_%s", names[i]);
    printf("%s@LINUX_2.6: %s, %s: %s\n", prefixed, yes(vdso_sym(prefixed, "LINUX_2.6") != NULL), names[i],
           yes(vdso_sym(names[i], "LINUX_2.6") != NULL));
  }

  /* Interleave the vDSO and the system call for over a second of the clock (past at least one
   * update of the sentry's parameters); each clock must never go back. */
  static const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW};
  int back[3] = {0, 0, 0};
  int64_t last[3] = {0, 0, 0};
  int64_t start = libc_clock(CLOCK_MONOTONIC);
  long rounds = 0;
  while (libc_clock(CLOCK_MONOTONIC) - start < 1300000000 || rounds < 1000) {
    for (int c = 0; c < 3; c++) {
      int64_t a = libc_clock(clocks[c]);
      int64_t b = rounds % 8 == 0 ? sys_clock(clocks[c]) : libc_clock(clocks[c]);
      int64_t d = libc_clock(clocks[c]);
      if (a < last[c] || b < a || d < b) back[c]++;
      last[c] = d;
    }
    rounds++;
  }
  printf("CLOCK_MONOTONIC never went back: %s\n", yes(back[0] == 0));
  printf("CLOCK_BOOTTIME never went back: %s\n", yes(back[1] == 0));
  printf("CLOCK_MONOTONIC_RAW never went back: %s\n", yes(back[2] == 0));
  int64_t mono = libc_clock(CLOCK_MONOTONIC), boot = libc_clock(CLOCK_BOOTTIME);
  printf("CLOCK_BOOTTIME >= CLOCK_MONOTONIC: %s\n", yes(boot >= mono));

  /* Realtime: the vDSO, the system call, gettimeofday and time agree (within a second: the
   * sentry may stop the program between two readings). */
  int64_t r1 = libc_clock(CLOCK_REALTIME), r2 = sys_clock(CLOCK_REALTIME), r3 = libc_clock(CLOCK_REALTIME);
  printf("realtime vdso/syscall agree: %s\n", yes(r1 <= r2 + 1000 && r2 - r1 < 1000000000 && r3 >= r2 - 1000));
  struct timeval tv;
  struct timezone tz = {123, 456};
  int g = gettimeofday(&tv, &tz);
  int64_t rt = libc_clock(CLOCK_REALTIME);
  int64_t gt = (int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000;
  printf("gettimeofday: %d, agrees: %s, utc: %s\n", g, yes(gt <= rt && rt - gt < 1000000000),
         yes(tz.tz_minuteswest == 0 && tz.tz_dsttime == 0));
  time_t t1 = time(NULL);
  int64_t rt2 = libc_clock(CLOCK_REALTIME);
  printf("time agrees: %s\n", yes(t1 <= rt2 / 1000000000 && rt2 / 1000000000 - t1 <= 1));
  int64_t coarse = libc_clock(CLOCK_REALTIME_COARSE), fine = libc_clock(CLOCK_REALTIME);
  printf("CLOCK_REALTIME_COARSE near CLOCK_REALTIME: %s\n", yes(coarse > 0 && fine - coarse < 1000000000 && coarse - fine < 1000000000));
  int64_t mc = libc_clock(CLOCK_MONOTONIC_COARSE), mf = libc_clock(CLOCK_MONOTONIC);
  printf("CLOCK_MONOTONIC_COARSE near CLOCK_MONOTONIC: %s\n", yes(mc > 0 && mf - mc < 1000000000 && mc - mf < 1000000000));

  /* What the page cannot answer. */
  struct timespec ts;
  printf("CLOCK_PROCESS_CPUTIME_ID: %d\n", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts));
  printf("CLOCK_THREAD_CPUTIME_ID: %d\n", clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts));
  errno = 0;
  int r99 = clock_gettime(99, &ts);
  printf("clock 99: %d %s\n", r99, strerror(errno));
  struct timespec res;
  int gr = clock_getres(CLOCK_MONOTONIC, &res);
  printf("clock_getres(CLOCK_MONOTONIC): %d %ld.%09ld\n", gr, (long)res.tv_sec, res.tv_nsec);
  int (*vgetres)(clockid_t, struct timespec *) = vdso_sym("__vdso_clock_getres", "LINUX_2.6");
  gr = vgetres(CLOCK_REALTIME, &res);
  printf("__vdso_clock_getres(CLOCK_REALTIME): %d %ld.%09ld\n", gr, (long)res.tv_sec, res.tv_nsec);
  long (*vgetcpu)(unsigned *, unsigned *, void *) = vdso_sym("__vdso_getcpu", "LINUX_2.6");
  unsigned cpu = 9999, node = 9999;
  long gc = vgetcpu(&cpu, &node, NULL);
  printf("__vdso_getcpu: %ld, cpu < 4096: %s, node: %u\n", gc, yes(cpu < 4096), node);
  int (*vclock)(clockid_t, struct timespec *) = vdso_sym("__vdso_clock_gettime", "LINUX_2.6");
  int64_t before = sys_clock(CLOCK_MONOTONIC);
  vclock(CLOCK_MONOTONIC, &ts);
  printf("__vdso_clock_gettime called directly: %s\n", yes(ns_of(ts) >= before));

  /* [vvar] may only be read. */
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[512];
  uintptr_t vvar = 0, vdso_start = 0, vdso_end = 0;
  while (maps && fgets(line, sizeof line, maps)) {
    uintptr_t s = strtoul(line, NULL, 16);
    if (strstr(line, "[vvar]") && !vvar) vvar = s;
    if (strstr(line, "[vdso]")) {
      vdso_start = s;
      vdso_end = strtoul(strchr(line, '-') + 1, NULL, 16);
    }
  }
  if (maps) fclose(maps);
  printf("/proc/self/maps shows [vvar] and [vdso] at AT_SYSINFO_EHDR: %s\n", yes(vvar != 0 && vdso_start == (uintptr_t)vdso));
  errno = 0;
  int mp = mprotect((void *)vvar, 4096, PROT_READ | PROT_WRITE);
  printf("mprotect([vvar], PROT_READ|PROT_WRITE): %d %s\n", mp, strerror(errno));
  /* A special mapping is never split (Linux: EINVAL). */
  errno = 0;
  printf("[vdso] is more than a page: %s\n", yes(vdso_end - vdso_start > 4096));
  mp = vdso_end - vdso_start > 4096 ? munmap((void *)vdso_start, 4096) : 0;
  printf("munmap of part of [vdso]: %d %s\n", mp, strerror(errno));

  /* A fork keeps the vDSO; a child that unmaps it whole (where the host has not sealed it:
   * Linux may, EPERM) still has the system call. */
  pid_t pid = fork();
  if (pid == 0) {
    int64_t a = libc_clock(CLOCK_MONOTONIC), b = sys_clock(CLOCK_MONOTONIC);
    if (a <= 0 || b < a) _exit(2);
    if (munmap((void *)vdso_start, vdso_end - vdso_start) != 0 && errno != EPERM) _exit(3);
    _exit(sys_clock(CLOCK_MONOTONIC) >= b ? 0 : 4);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("forked child's clocks (and after munmap of [vdso]): exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

  printf("realtime_ns=%lld\n", (long long)libc_clock(CLOCK_REALTIME));
  return 0;
}
