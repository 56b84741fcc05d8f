/*
 * The sentry's vDSO: the shared object every application address space gets (AT_SYSINFO_EHDR),
 * exporting Linux's x86-64 vDSO functions under the version LINUX_2.6. Clocks the parameters
 * page can answer (vvar.h) are computed here from the TSC without a system call; everything
 * else makes the real system call, which the sentry serves as any other.
 *
 * Built with the machine's gcc by kernel/vdso/build.ts, linked by vdso.lds into one loadable
 * segment whose file offsets are its addresses; the parameters page is the page just below the
 * image (the sentry maps them together), found through __ehdr_start; the page between them holds
 * the offsets of the caller's time namespace (struct vvar_ns), added to the clocks they shift.
 */
#include "vvar.h"

struct timespec_k {
	int64_t tv_sec;
	int64_t tv_nsec;
};
struct timeval_k {
	int64_t tv_sec;
	int64_t tv_usec;
};
struct timezone_k {
	int32_t tz_minuteswest;
	int32_t tz_dsttime;
};

static inline const volatile struct vvar *vvar_page(void)
{
	const volatile struct vvar *p;
	/* Two pages below the image's ELF header, wherever the image is mapped. */
	__asm__("lea __ehdr_start-8192(%%rip), %0" : "=r"(p));
	return p;
}

static inline const volatile struct vvar_ns *vvar_ns_page(void)
{
	const volatile struct vvar_ns *p;
	__asm__("lea __ehdr_start-4096(%%rip), %0" : "=r"(p));
	return p;
}

/* A clock as the caller's time namespace shows it; -1: ask the kernel. */
static inline int clock_ns(int clock, int64_t *ns)
{
	const volatile struct vvar_ns *n = vvar_ns_page();
	if (n->fallback)
		return -1;
	if (vvar_clock_ns(vvar_page(), clock, ns) != 0)
		return -1;
	switch (clock) {
	case CLK_MONOTONIC:
	case CLK_MONOTONIC_RAW:
	case CLK_MONOTONIC_COARSE:
		*ns += n->monotonic;
		break;
	case CLK_BOOTTIME:
		*ns += n->boottime;
		break;
	}
	return 0;
}

static inline long sys2(long nr, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return r;
}

static inline long sys3(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

#define NR_gettimeofday 96
#define NR_time 201
#define NR_clock_gettime 228
#define NR_clock_getres 229
#define NR_getcpu 309

int __vdso_clock_gettime(int clock, struct timespec_k *ts)
{
	int64_t ns;
	if (clock_ns(clock, &ns) != 0)
		return sys2(NR_clock_gettime, clock, (long)ts);
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return 0;
}

int __vdso_gettimeofday(struct timeval_k *tv, struct timezone_k *tz)
{
	int64_t ns;
	if (clock_ns(CLK_REALTIME, &ns) != 0)
		return sys2(NR_gettimeofday, (long)tv, (long)tz);
	if (tv) {
		tv->tv_sec = ns / 1000000000;
		tv->tv_usec = ns % 1000000000 / 1000;
	}
	if (tz) {
		/* The sentry's gettimeofday answers UTC. */
		tz->tz_minuteswest = 0;
		tz->tz_dsttime = 0;
	}
	return 0;
}

long __vdso_time(long *t)
{
	int64_t ns;
	if (clock_ns(CLK_REALTIME, &ns) != 0)
		return sys2(NR_time, (long)t, 0);
	long s = ns / 1000000000;
	if (t)
		*t = s;
	return s;
}

long __vdso_getcpu(unsigned *cpu, unsigned *node, void *cache)
{
	return sys3(NR_getcpu, (long)cpu, (long)node, (long)cache);
}

int __vdso_clock_getres(int clock, struct timespec_k *res)
{
	return sys2(NR_clock_getres, clock, (long)res);
}

int clock_gettime(int, struct timespec_k *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval_k *, struct timezone_k *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
int clock_getres(int, struct timespec_k *) __attribute__((weak, alias("__vdso_clock_getres")));
