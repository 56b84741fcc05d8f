/*
 * The sentry's side of the vDSO clock, loaded into the sentry with Deno.dlopen by
 * kernel/vdso/clock.ts: it reads the TSC (which JavaScript cannot) and writes and reads the
 * parameters page with the same code the vDSO uses (vvar.h), so that the clock_gettime system
 * call and the vDSO give the same time.
 */
#include <time.h>
#include "vvar.h"

/*
 * One calibration sample: out[0] the TSC, out[1] the host's CLOCK_MONOTONIC and out[2] its
 * CLOCK_REALTIME, in ns, all at (nearly) the same instant; out[3] the window the TSC reading
 * lies in (ns between the two monotonic readings around it).
 */
void sentry_clock_sample(int64_t out[4])
{
	struct timespec a, b, r;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t tsc = vvar_rdtsc();
	clock_gettime(CLOCK_MONOTONIC, &b);
	clock_gettime(CLOCK_REALTIME, &r);
	int64_t na = a.tv_sec * 1000000000LL + a.tv_nsec, nb = b.tv_sec * 1000000000LL + b.tv_nsec;
	out[0] = (int64_t)tsc;
	out[1] = na + (nb - na) / 2;
	out[2] = r.tv_sec * 1000000000LL + r.tv_nsec;
	out[3] = nb - na;
}

/* The TSC now. */
int64_t sentry_clock_tsc(void)
{
	return (int64_t)vvar_rdtsc();
}

/*
 * Publishes new parameters (p: mode, tsc_base, mono_base, mult, shift, real_offset,
 * boot_offset) under the sequence count.
 */
void sentry_vvar_write(volatile struct vvar *v, const int64_t p[7])
{
	uint32_t seq = v->seq;
	v->seq = seq + 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	v->mode = (uint32_t)p[0];
	v->tsc_base = (uint64_t)p[1];
	v->mono_base = p[2];
	v->mult = (uint64_t)p[3];
	v->shift = (uint32_t)p[4];
	v->real_offset = p[5];
	v->boot_offset = p[6];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	v->seq = seq + 2;
}

/* A clock from the page, as the vDSO reads it; INT64_MIN when the page cannot answer. */
int64_t sentry_vvar_clock(const volatile struct vvar *v, int32_t clock)
{
	int64_t ns;
	return vvar_clock_ns(v, clock, &ns) == 0 ? ns : INT64_MIN;
}
