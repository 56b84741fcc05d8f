/*
 * The parameters page ([vvar]) the sentry keeps for the vDSO, and the one function that turns
 * it and the TSC into a clock reading. Shared by the vDSO (vdso.c, in the application) and the
 * sentry's own clock (clock_helper.c), so that a clock read through the vDSO and through the
 * clock_gettime syscall follow the same formula from the same numbers.
 *
 * Update protocol (a sequence count): the sentry makes `seq` odd, writes the other fields,
 * then makes `seq` even again. A reader copies the fields between two reads of `seq` and tries
 * again if they differ or are odd. The layout is an ABI between vdso.c and vdso.ts (offsets
 * are repeated there): change both together.
 */
#ifndef SENTRY_VVAR_H
#define SENTRY_VVAR_H

#include <stdint.h>

/* No parameters: every clock falls back to the system call. */
#define VVAR_MODE_SYSCALL 0
/* The TSC parameters below are valid. */
#define VVAR_MODE_TSC 1

struct vvar {
	uint32_t seq;         /* offset 0: odd while the sentry writes */
	uint32_t mode;        /* 4 */
	uint64_t tsc_base;    /* 8: a TSC reading ... */
	int64_t mono_base;    /* 16: ... and CLOCK_MONOTONIC at it, in ns */
	uint64_t mult;        /* 24: ns = (tsc - tsc_base) * mult >> shift */
	uint32_t shift;       /* 32 */
	uint32_t pad;         /* 36 */
	int64_t real_offset;  /* 40: CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	int64_t boot_offset;  /* 48: CLOCK_BOOTTIME - CLOCK_MONOTONIC, ns */
};

/*
 * The page after the parameters page: the offsets of the reader's time namespace (zero in the
 * sandbox's first), constant once mapped. `fallback` set: this namespace's clocks come from the
 * system call (the sentry ran out of namespace pages).
 */
struct vvar_ns {
	uint32_t seq;         /* 0: unused, never odd */
	uint32_t fallback;    /* 4 */
	int64_t monotonic;    /* 8: added to CLOCK_MONOTONIC, _RAW and _COARSE, ns */
	int64_t boottime;     /* 16: added to CLOCK_BOOTTIME, ns */
};

#define CLK_REALTIME 0
#define CLK_MONOTONIC 1
#define CLK_MONOTONIC_RAW 4
#define CLK_REALTIME_COARSE 5
#define CLK_MONOTONIC_COARSE 6
#define CLK_BOOTTIME 7

static inline uint64_t vvar_rdtsc(void)
{
	uint32_t lo, hi;
	/* lfence keeps the reading from being taken before earlier loads (rdtscp is not on every
	 * CPU a VM shows). */
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/*
 * The time of `clock` in ns into *ns; 0 on success, -1 when the page cannot answer (no TSC
 * parameters, or a clock it does not hold): the caller then asks the kernel.
 */
static inline int vvar_clock_ns(const volatile struct vvar *v, int clock, int64_t *ns)
{
	uint32_t seq;
	int64_t t;
	for (;;) {
		seq = v->seq;
		__asm__ volatile("" ::: "memory");
		if (seq & 1) {
			__asm__ volatile("pause");
			continue;
		}
		if (v->mode != VVAR_MODE_TSC)
			return -1;
		uint64_t base = v->tsc_base, mult = v->mult;
		uint32_t shift = v->shift;
		int64_t mono = v->mono_base;
		int64_t off;
		switch (clock) {
		case CLK_MONOTONIC:
		case CLK_MONOTONIC_RAW:
		case CLK_MONOTONIC_COARSE:
			off = 0;
			break;
		case CLK_REALTIME:
		case CLK_REALTIME_COARSE:
			off = v->real_offset;
			break;
		case CLK_BOOTTIME:
			off = v->boot_offset;
			break;
		default:
			return -1;
		}
		uint64_t now = vvar_rdtsc();
		__asm__ volatile("" ::: "memory");
		if (v->seq != seq)
			continue;
		/* A TSC read just before an update's base counts as the base: never earlier. */
		uint64_t delta = (int64_t)(now - base) > 0 ? now - base : 0;
		t = mono + (int64_t)(((unsigned __int128)delta * mult) >> shift) + off;
		break;
	}
	*ns = t;
	return 0;
}

#endif
