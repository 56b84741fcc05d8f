/**
 * What the kernel needs of userfaultfd without loading it: kernel/userfaultfd.ts (~26 KB of
 * source) loads with userfaultfd(2)'s syscall family (LAZY_FAMILIES) or an open of
 * /dev/userfaultfd ({@linkcode userfaultfdModule}). The fault stop of an address space where the
 * host withholds rights ({@linkcode withheldFault}) serves guard, poisoned and uncharged tmpfs
 * pages too, which exist without any userfaultfd; it reaches a userfaultfd only through a
 * registration's object (v.uffd.ctx), which exists only once the module is loaded.
 * /proc/sys/vm/unprivileged_userfaultfd is here as well.
 *
 * @module
 */

import {
  UFFD_FEATURE_SIGBUS, UFFD_PAGEFAULT_FLAG_MINOR, UFFD_PAGEFAULT_FLAG_WP, UFFD_PAGEFAULT_FLAG_WRITE,
} from "../abi/linux/userfaultfd.ts";
import { SEEK_DATA } from "../abi/linux/file.ts";
import { PAGE_SIZE } from "../abi/linux/mm.ts";
import { BUS_ADRERR, SEGV_MAPERR, SIGBUS, SIGSEGV } from "../abi/linux/signal.ts";
import { MARK_GUARD, MARK_POISON, MARK_UFFD_MINOR, UFFD_MODE_MINOR, UFFD_MODE_MISSING, type Vma } from "./mm/mm.ts";
import { hostLseek } from "../platform/ptrace/_ffi.ts";
import { faultIsWrite } from "./fault_access.ts";
import { LazyModule } from "./lazy_module.ts";
import { block, type SyscallControl } from "./syscalls/linux/support.ts";
import { EVENT_IN, type WaitQueue } from "../waiter/mod.ts";
import type { Task } from "./task.ts";
import type { UserfaultFd } from "./userfaultfd.ts";

/** /proc/sys/vm/unprivileged_userfaultfd: Linux's default, 0. */
export const uffdSysctl = { unprivileged: 0 };

/** kernel/userfaultfd.ts, loaded at its first use. */
export const userfaultfdModule = new LazyModule("userfaultfd", () => import("./userfaultfd.ts"));

/**
 * A SIGSEGV stop at addr in an address space where the host withholds rights: what it means.
 * "retry": the page needed less than the host withheld (filled since, unregistered, a fork's
 * child, a read of a write-protected page): given back, the instruction runs again. "slept":
 * a userfaultfd has it now (t sleeps). A signal for a guard page (SIGSEGV, SEGV_MAPERR: a
 * guard marker is no mapping), a poisoned one (SIGBUS, BUS_ADRERR: Linux 6.18's poison marker
 * is VM_FAULT_SIGBUS, not a hardware error) or a userfaultfd with
 * UFFD_FEATURE_SIGBUS. null: not a withheld page, an ordinary fault.
 */
export function withheldFault(t: Task, addr: number): "retry" | "slept" | { signo: number; code: number } | null {
  const mm = t.mm;
  const charged = mm.chargeTouched(t.ctx, addr);
  if (charged !== null) return charged ? "retry" : { signo: SIGBUS, code: BUS_ADRERR };
  const minor = minorFault(t, addr);
  if (minor !== null) return minor;
  const held = mm.as.withheldAt?.(addr) ?? 0;
  if (held === 0) return null;
  const page = addr - (addr % PAGE_SIZE);
  const v = mm.findVma(addr);
  if (v === undefined) return null;
  const present = (mm.as.populated?.(page, page + PAGE_SIZE)?.length ?? 1) > 0;
  const rights = mm.rightsWithheld(v, page, present);
  if (rights !== held) {
    mm.withholding = true;
    if ((mm.as.setWithheld?.(t.ctx, page, page + PAGE_SIZE, rights) ?? -1) < 0) return null;
    return "retry";
  }
  const marks = mm.pageMarks?.get(page) ?? 0;
  if (marks & MARK_GUARD) return { signo: SIGSEGV, code: SEGV_MAPERR };
  if (marks & MARK_POISON) return { signo: SIGBUS, code: BUS_ADRERR };
  const ctx = v.uffd?.ctx as UserfaultFd | undefined;
  if (ctx === undefined) return null;
  if ((ctx.features ?? 0) & UFFD_FEATURE_SIGBUS) return { signo: SIGBUS, code: BUS_ADRERR };
  const missing = (v.uffd!.mode & UFFD_MODE_MISSING) !== 0 && !present;
  const flags = !missing ? UFFD_PAGEFAULT_FLAG_WP | UFFD_PAGEFAULT_FLAG_WRITE : faultIsWrite(t, addr) ? UFFD_PAGEFAULT_FLAG_WRITE : 0;
  ctx.sleepInFault(t, addr, flags);
  return "slept";
}

/**
 * A touch of a page of a shmem mapping registered for minor faults that the address space does
 * not map yet (MARK_UFFD_MINOR): with the page in the file, a minor fault the userfaultfd
 * resolves (UFFDIO_CONTINUE); otherwise (a hole, the registration gone) the page is mapped and
 * the access tried again. null: no such page.
 */
function minorFault(t: Task, addr: number): "retry" | "slept" | null {
  const mm = t.mm;
  const page = addr - (addr % PAGE_SIZE);
  if (!((mm.pageMarks?.get(page) ?? 0) & MARK_UFFD_MINOR)) return null;
  const v = mm.findVma(addr);
  if (v === undefined) return null;
  const ctx = v.uffd?.ctx as UserfaultFd | undefined;
  if (ctx !== undefined && (v.uffd!.mode & UFFD_MODE_MINOR) && shmemPageCached(v, page)) {
    const write = faultIsWrite(t, addr) ? UFFD_PAGEFAULT_FLAG_WRITE : 0;
    ctx.sleepInFault(t, addr, UFFD_PAGEFAULT_FLAG_MINOR | write);
    return "slept";
  }
  mm.dropMarks(page, page + PAGE_SIZE, MARK_UFFD_MINOR);
  mm.as.protect(t.ctx, page, PAGE_SIZE, v.prot);
  return "retry";
}

/** Whether the file mapped at page holds the page (shmem's page cache: the memfd has data there). */
export function shmemPageCached(v: Vma, page: number): boolean {
  const fd = v.file?.hostFdForMmap() ?? null;
  if (fd === null) return false;
  const off = v.offset + (page - v.start);
  return hostLseek(fd, off, SEEK_DATA) === off;
}

/** The events' numbers (uffd_msg.event). */
const UFFD_EVENT_REMAP = 0x14, UFFD_EVENT_REMOVE = 0x15, UFFD_EVENT_UNMAP = 0x16;

/** What a syscall that sent a userfaultfd event keeps while it sleeps: the event was sent. */
interface EventSent {
  uffdEventSent: true;
  result: number;
}

/** The syscall's saved result once its event was read (it runs again), or null. */
export function uffdEventDone(t: Task): number | null {
  const s = t.syscallState as EventSent | null;
  return s !== null && typeof s === "object" && s.uffdEventSent === true ? s.result : null;
}

/** The userfaultfds of the VMAs in [start, end) that asked for `feature`, each once. */
export function uffdsWanting(t: Task, start: number, end: number, feature: number): UserfaultFd[] {
  const out: UserfaultFd[] = [];
  if (!t.mm.withholding) return out;
  for (const v of t.mm.vmas) {
    if (v.end <= start || v.start >= end) continue;
    const ctx = v.uffd?.ctx as UserfaultFd | undefined;
    if (ctx !== undefined && ((ctx.features ?? 0) & feature) && !out.includes(ctx)) out.push(ctx);
  }
  return out;
}

/**
 * Sends an event (UFFD_EVENT_REMOVE, UNMAP or REMAP with its two or three words) to each
 * userfaultfd and puts the syscall to sleep, killable, until the first is read; the syscall
 * then runs again and finds `result` (uffdEventDone). null when there is none to send.
 */
export function sendUffdEvent(
  t: Task, ctxs: UserfaultFd[], kind: "remove" | "unmap" | "remap", words: number[], result: number,
): SyscallControl | null {
  return sendUffdEvents(t, [{ ctxs, kind, words }], result);
}

/**
 * Several events in order (mremap's REMAP, then UNMAP of the old range); the syscall sleeps
 * until the last is read (reads take events in order, so all are then).
 */
export function sendUffdEvents(
  t: Task, events: Array<{ ctxs: UserfaultFd[]; kind: "remove" | "unmap" | "remap"; words: number[] }>, result: number,
): SyscallControl | null {
  let last: WaitQueue[] = [];
  for (const e of events) {
    if (e.ctxs.length === 0) continue;
    const event = e.kind === "remove" ? UFFD_EVENT_REMOVE : e.kind === "unmap" ? UFFD_EVENT_UNMAP : UFFD_EVENT_REMAP;
    last = e.ctxs.map((c) => c.queueEvent(event, e.words[0] ?? 0, e.words[1] ?? 0, e.words[2] ?? 0));
  }
  if (last.length === 0) return null;
  t.syscallState = { uffdEventSent: true, result } satisfies EventSent;
  return block(last, EVENT_IN, null, "killable");
}
