/**
 * userfaultfd(2) and /dev/userfaultfd, Linux's fs/userfaultfd.c and mm/userfaultfd.c: a
 * process's page faults in registered ranges are handed to a file, read as uffd_msg, and
 * resolved by ioctls (UFFDIO_COPY, ZEROPAGE, MOVE, POISON, WRITEPROTECT, WAKE).
 *
 * How a fault reaches the sentry: the host maps the memory of a registered range without the
 * rights the registration takes away (AddressSpace.setWithheld: every right on a page a
 * missing-mode registration has not had filled, the write right on a write-protected page), so
 * the application's access stops with SIGSEGV and the kernel's fault stop calls
 * {@linkcode withheldFault}. A page that needs nothing any more (filled since, unregistered, a
 * fork's child) gets its rights back and the instruction runs again; otherwise the thread
 * sleeps as plain data (its registers, at the faulting instruction, and a wait queue of its
 * own) until a resolving ioctl wakes it, and then takes the fault again, as Linux's
 * handle_userfault returns VM_FAULT_RETRY. A signal wakes it too: the handler runs and the
 * access is tried again afterwards, as on Linux.
 *
 * What a page holds is the memory file's business: a registered range is made memory-file
 * memory of its own at registration (AddressSpace.ownMemory) and a page is missing while the
 * file has a hole there (MADV_DONTNEED punches one: missing again). The sentry's own copies
 * (a read(2) into a registered buffer) are not faults here: they fill or read the page as if
 * it were resolved, where Linux would block in the kernel (or fail with EFAULT under
 * UFFD_USER_MODE_ONLY). UFFD_PAGEFAULT_FLAG_WRITE of a missing page's fault comes from decoding the
 * faulting instruction (kernel/fault_access.ts: a SIGSEGV stop does not tell the access).
 *
 * Minor faults (UFFD_FEATURE_MINOR_SHMEM, UFFDIO_CONTINUE) are memfd and tmpfs mappings': the
 * pages such a mapping does not map yet are closed on the host (MARK_UFFD_MINOR), a touch of
 * one the file holds sleeps until UFFDIO_CONTINUE opens it, a touch of a hole maps it.
 *
 * Events: UFFD_FEATURE_EVENT_REMOVE (MADV_DONTNEED), EVENT_UNMAP (munmap, and the old range of
 * a moved mapping) and EVENT_REMAP (mremap moving a registered mapping, which keeps its
 * registration): the syscall sleeps, killable, until the manager read the event, then returns
 * what it did (t.syscallState), as Linux's userfaultfd_event_wait_completion.
 *
 * Not offered (UFFDIO_API reports the features honestly): UFFD_FEATURE_EVENT_FORK, missing and write-protect modes of shmem files and minor faults of shared anonymous memory
 * (EINVAL at UFFDIO_REGISTER), hugetlbfs, asynchronous and unpopulated write protection.
 *
 * A checkpoint refuses a sandbox with an open userfaultfd (an open file it does not save).
 *
 * @module
 */

import {
  UFFD_FEATURE_EVENT_REMAP, UFFD_FEATURE_EVENT_REMOVE, UFFD_FEATURE_EVENT_UNMAP,
  _UFFDIO_API, _UFFDIO_CONTINUE, _UFFDIO_COPY, _UFFDIO_MOVE, _UFFDIO_POISON, _UFFDIO_REGISTER, _UFFDIO_UNREGISTER,
  _UFFDIO_WAKE, _UFFDIO_WRITEPROTECT, _UFFDIO_ZEROPAGE, UFFD_API, UFFD_EVENT_PAGEFAULT, UFFD_FEATURE_EVENT_FORK,
  UFFD_FEATURE_EXACT_ADDRESS, UFFD_FEATURE_MOVE, UFFD_FEATURE_PAGEFAULT_FLAG_WP, UFFD_FEATURE_POISON, UFFD_FEATURE_SIGBUS,
  UFFD_FEATURE_MINOR_SHMEM, UFFD_FEATURE_THREAD_ID, UFFD_MSG_SIZE, UFFD_USER_MODE_ONLY,
  UFFDIO_API, UFFDIO_CONTINUE, UFFDIO_COPY, UFFDIO_COPY_MODE_DONTWAKE, UFFDIO_COPY_MODE_WP, UFFDIO_MOVE,
  UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES, UFFDIO_MOVE_MODE_DONTWAKE, UFFDIO_POISON, UFFDIO_POISON_MODE_DONTWAKE,
  UFFDIO_REGISTER, UFFDIO_REGISTER_MODE_MINOR, UFFDIO_REGISTER_MODE_MISSING, UFFDIO_REGISTER_MODE_WP, UFFDIO_UNREGISTER,
  UFFDIO_WAKE, UFFDIO_WRITEPROTECT, UFFDIO_WRITEPROTECT_MODE_DONTWAKE, UFFDIO_WRITEPROTECT_MODE_WP, UFFDIO_ZEROPAGE,
  UFFDIO_ZEROPAGE_MODE_DONTWAKE, USERFAULTFD_IOC_NEW,
} from "../abi/linux/userfaultfd.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "../abi/linux/file.ts";
import { PAGE_SIZE, TASK_SIZE } from "../abi/linux/mm.ts";
import { CAP_SYS_PTRACE } from "../abi/linux/capability.ts";
import { AnonInodeFile } from "../vfs/anon_file.ts";
import type { MemoryIO } from "../vfs/file_description.ts";
import { LocatedFile } from "../vfs/located_file.ts";
import { EVENT_ERR, EVENT_IN, EVENT_RDNORM, WaitQueue } from "../waiter/mod.ts";
import { EAGAIN, EBUSY, EEXIST, EFAULT, EINVAL, ENOENT, ENOMEM, EPERM, ESRCH, errnoFromNumber } from "./errno.ts";
import {
  MARK_POISON, MARK_UFFD_MINOR, MARK_UFFD_WP, type MemoryManager, UFFD_MODE_MINOR, UFFD_MODE_MISSING, UFFD_MODE_WP, type Vma,
} from "./mm/mm.ts";
import type { Kernel } from "./kernel.ts";
import type { Task } from "./task.ts";
import type { Context } from "../platform/mod.ts";
import { shmemPageCached, uffdSysctl } from "./userfaultfd_hooks.ts";

// What the fault stop, /proc/sys and a checkpoint ask without loading this module.
export { uffdSysctl, withheldFault } from "./userfaultfd_hooks.ts";

/** The features this kernel has (UFFDIO_API answers them). */
const FEATURES = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_SIGBUS | UFFD_FEATURE_THREAD_ID |
  UFFD_FEATURE_EXACT_ADDRESS | UFFD_FEATURE_POISON | UFFD_FEATURE_MOVE | UFFD_FEATURE_MINOR_SHMEM |
  UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMAP;
/** UFFD_API_IOCTLS: register, unregister, api. */
const API_IOCTLS = (1n << BigInt(_UFFDIO_REGISTER)) | (1n << BigInt(_UFFDIO_UNREGISTER)) | (1n << BigInt(_UFFDIO_API));
/** UFFD_API_RANGE_IOCTLS. */
const RANGE_IOCTLS = [_UFFDIO_WAKE, _UFFDIO_COPY, _UFFDIO_ZEROPAGE, _UFFDIO_MOVE, _UFFDIO_WRITEPROTECT, _UFFDIO_CONTINUE, _UFFDIO_POISON]
  .reduce((a, b) => a | (1n << BigInt(b)), 0n);
/** Linux's mmap_min_addr (/proc/sys/vm/mmap_min_addr). */
const MMAP_MIN_ADDR = 65536;

/** One thread asleep in a fault of a registered range. */
interface PendingFault {
  task: Task;
  /** The task's own wait queue: woken, the task takes the fault again. */
  queue: WaitQueue;
  /** The page (or with UFFD_FEATURE_EXACT_ADDRESS the address) of the fault. */
  address: number;
  msg: Uint8Array;
  /** Already read: no longer pending for read(2) and poll (Linux's refile to fault_wqh). */
  read: boolean;
}

/** @savable An open userfaultfd (Linux's userfaultfd_ctx and its file). */
export class UserfaultFd extends AnonInodeFile {
  /** Immutable. */
  readonly kernel: Kernel;
  /** Immutable. The address space whose faults this file handles (its creator's). */
  readonly mm: MemoryManager;
  /** Immutable. UFFD_USER_MODE_ONLY. */
  readonly userModeOnly: boolean;
  /** The features UFFDIO_API enabled; null before it (Linux's !userfaultfd_is_initialized). */
  features: number | null = null;
  /** Threads asleep in faults, in the order they faulted. */
  faults: PendingFault[] = [];
  /**
   * Events (remove, unmap, remap) not read yet, each with the queue its syscall sleeps on
   * until the event is read (Linux's userfaultfd_event_wait_completion).
   */
  events: Array<{ msg: Uint8Array; queue: WaitQueue }> = [];

  constructor(kernel: Kernel, mm: MemoryManager, flags: number) {
    super("anon_inode:[userfaultfd]", O_RDONLY | (flags & O_NONBLOCK));
    this.kernel = kernel;
    this.mm = mm;
    this.userModeOnly = (flags & UFFD_USER_MODE_ONLY) !== 0;
  }

  /** The faults whose thread still sleeps in them (a signal or an exit may have woken one). */
  #live(): PendingFault[] {
    this.faults = this.faults.filter((f) => f.task.state === "blocked" && f.task.blocked?.queues[0] === f.queue);
    return this.faults;
  }

  /** Puts t to sleep in a fault at addr (page-aligned unless UFFD_FEATURE_EXACT_ADDRESS). */
  sleepInFault(t: Task, addr: number, flags: number): void {
    const features = this.features ?? 0;
    const address = (features & UFFD_FEATURE_EXACT_ADDRESS) ? addr : addr - (addr % PAGE_SIZE);
    const msg = new Uint8Array(UFFD_MSG_SIZE);
    const v = new DataView(msg.buffer);
    v.setUint8(0, UFFD_EVENT_PAGEFAULT);
    v.setBigUint64(8, BigInt(flags), true);
    v.setBigUint64(16, BigInt(address), true);
    if (features & UFFD_FEATURE_THREAD_ID) v.setUint32(24, t.vnr(t.tid), true);
    const queue = new WaitQueue();
    this.faults.push({ task: t, queue, address, msg, read: false });
    this.kernel.sleepInFault(t, queue);
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  /** Wakes the faults in [start, start+len) (len 0: all), as Linux's wake_userfault. */
  wake(start: number, len: number): void {
    const woken: Task[] = [];
    this.faults = this.#live().filter((f) => {
      if (len !== 0 && (f.address < start || f.address >= start + len)) return true;
      woken.push(f.task);
      return false;
    });
    for (const t of woken) this.kernel.wakeTask(t);
  }

  override read(dst: Uint8Array, _offset: number | null): number {
    if (this.features === null) throw EINVAL;
    if (dst.length < UFFD_MSG_SIZE) throw EINVAL;
    let n = 0;
    for (const f of this.#live()) {
      if (f.read) continue;
      if (n + UFFD_MSG_SIZE > dst.length) break;
      f.read = true;
      dst.set(f.msg, n);
      n += UFFD_MSG_SIZE;
    }
    // Faults first, then events (userfaultfd_ctx_read); a read event lets its syscall go on.
    while (this.events.length > 0 && n + UFFD_MSG_SIZE <= dst.length) {
      const e = this.events.shift()!;
      dst.set(e.msg, n);
      n += UFFD_MSG_SIZE;
      e.queue.notify(EVENT_IN);
    }
    if (n === 0) throw EAGAIN;
    return n;
  }

  /** Queues an event: its syscall sleeps on the queue returned until a read takes it. */
  queueEvent(event: number, a: number, b: number, c = 0): WaitQueue {
    const msg = new Uint8Array(UFFD_MSG_SIZE);
    const v = new DataView(msg.buffer);
    v.setUint8(0, event);
    v.setBigUint64(8, BigInt(a), true);
    v.setBigUint64(16, BigInt(b), true);
    v.setBigUint64(24, BigInt(c), true);
    const queue = new WaitQueue();
    this.events.push({ msg, queue });
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
    return queue;
  }

  /** Linux's userfaultfd_poll: EPOLLERR before UFFDIO_API and on a blocking descriptor. */
  override readiness(mask: number): number {
    if (this.features === null || !(this.flags & O_NONBLOCK)) return EVENT_ERR;
    const pending = this.#live().some((f) => !f.read) || this.events.length > 0;
    return (pending ? EVENT_IN | EVENT_RDNORM : 0) & mask;
  }

  /** Linux's userfaultfd_release: every VMA leaves it, its write protection goes, sleepers wake. */
  protected override release(): void {
    for (const v of [...this.mm.vmas]) {
      if (v.uffd?.ctx !== this) continue;
      this.mm.dropMarks(v.start, v.end, MARK_UFFD_WP);
      this.mm.setUffd(v.start, v.end, null);
    }
    this.wake(0, 0);
    for (const e of this.events) e.queue.notify(EVENT_IN);
    this.events = [];
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd !== UFFDIO_API && this.features === null) throw EINVAL;
    switch (cmd) {
      case UFFDIO_API:
        return this.#api(arg, io);
      case UFFDIO_REGISTER:
        return this.#register(arg, io);
      case UFFDIO_UNREGISTER:
        return this.#unregister(arg, io);
      case UFFDIO_WAKE: {
        const [start, len] = readU64s(io, arg, 2);
        validateRange(start, len);
        this.wake(Number(start), Number(len));
        return 0;
      }
      case UFFDIO_COPY:
        return this.#copy(arg, io);
      case UFFDIO_ZEROPAGE:
        return this.#fill(arg, io, "zero");
      case UFFDIO_POISON:
        return this.#fill(arg, io, "poison");
      case UFFDIO_MOVE:
        return this.#move(arg, io);
      case UFFDIO_WRITEPROTECT:
        return this.#writeProtect(arg, io);
      case UFFDIO_CONTINUE:
        return this.#continue(arg, io);
      default:
        throw EINVAL;
    }
  }

  /**
   * UFFDIO_API: the API number (EINVAL), UFFD_FEATURE_EVENT_FORK without CAP_SYS_PTRACE
   * (EPERM), features this kernel lacks (EINVAL): each failure zeroes the caller's struct. Once
   * only (a second call is EINVAL).
   */
  #api(arg: number, io: MemoryIO): number {
    const [api, features] = readU64s(io, arg, 2);
    const out = new Uint8Array(24);
    const fail = (e: Error) => {
      io.copyOut(arg, out);
      throw e;
    };
    if (api !== BigInt(UFFD_API)) fail(EINVAL);
    const caller = this.kernel.current;
    if ((features & BigInt(UFFD_FEATURE_EVENT_FORK)) && caller !== null && !caller.creds.hasCap(CAP_SYS_PTRACE)) fail(EPERM);
    if (features & ~BigInt(FEATURES)) fail(EINVAL);
    const v = new DataView(out.buffer);
    v.setBigUint64(0, BigInt(UFFD_API), true);
    v.setBigUint64(8, BigInt(FEATURES), true);
    v.setBigUint64(16, API_IOCTLS, true);
    io.copyOut(arg, out);
    if (this.features !== null) fail(EINVAL);
    this.features = Number(features);
    return 0;
  }

  /** A stopped thread of this file's address space, to change its host mappings through. */
  #via(): Context | null {
    const cur = this.kernel.current;
    if (cur !== null && cur.mm === this.mm) return cur.ctx;
    for (const t of this.kernel.tasks.values()) {
      if (t.mm === this.mm && t.state !== "user" && t.state !== "dead") return t.ctx;
    }
    return null;
  }

  /**
   * UFFDIO_REGISTER (userfaultfd_register): the modes (EINVAL for none, unknown ones and
   * MINOR, which no anonymous memory takes), the range, then every VMA in it: anonymous
   * memory only (EINVAL), writable in principle (EPERM), no other userfaultfd's (EBUSY).
   */
  #register(arg: number, io: MemoryIO): number {
    const [start, len, mode] = readU64s(io, arg, 3);
    if (mode & ~BigInt(UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP | UFFDIO_REGISTER_MODE_MINOR)) throw EINVAL;
    if (mode === 0n) throw EINVAL;
    validateRange(start, len);
    if (this.mm.users <= 0) throw ENOMEM;
    const s = Number(start), e = s + Number(len);
    const vmas = this.mm.vmas.filter((v) => v.start < e && s < v.end);
    if (vmas.length === 0) throw EINVAL;
    const minorOnly = mode === BigInt(UFFDIO_REGISTER_MODE_MINOR);
    for (const v of vmas) {
      // vma_can_userfault: minor faults are shmem's (here: memfd and tmpfs files, whose
      // missing and write-protect modes are not offered), the other modes anonymous memory's.
      if (minorOnly ? !(v.file !== null && v.file.shmem) : (mode & BigInt(UFFDIO_REGISTER_MODE_MINOR)) !== 0n || !anonymous(v)) {
        throw EINVAL;
      }
      if (v.mayWrite === false || (v.shared && v.file !== null && !v.file.writable)) throw EPERM;
      if (v.uffd !== undefined && v.uffd.ctx !== this) throw EBUSY;
    }
    const via = this.#via();
    if (via === null) throw EAGAIN;
    for (const v of vmas) {
      if (v.file !== null) continue;
      const a = Math.max(v.start, s), b = Math.min(v.end, e);
      const r = this.mm.as.ownMemory?.(via, a, b, v.prot, v.shared) ?? -EINVAL.errno;
      if (r < 0) throw errnoFromNumber(-r);
    }
    const m = (mode & BigInt(UFFDIO_REGISTER_MODE_MISSING) ? UFFD_MODE_MISSING : 0) |
      (mode & BigInt(UFFDIO_REGISTER_MODE_WP) ? UFFD_MODE_WP : 0) | (minorOnly ? UFFD_MODE_MINOR : 0);
    for (const v of vmas) this.mm.setUffd(Math.max(v.start, s), Math.min(v.end, e), { ctx: this, mode: m });
    // From now on a page may go missing (MADV_DONTNEED, mremap): the address space withholds.
    this.mm.withholding = true;
    if (minorOnly) {
      for (const v of vmas) this.mm.withholdMinor(via, Math.max(v.start, s), Math.min(v.end, e), true);
    } else {
      this.mm.syncWithheld(via, s, e);
    }
    let ioctls = minorOnly ? RANGE_IOCTLS : RANGE_IOCTLS & ~(1n << BigInt(_UFFDIO_CONTINUE));
    if (!(mode & BigInt(UFFDIO_REGISTER_MODE_WP))) ioctls &= ~(1n << BigInt(_UFFDIO_WRITEPROTECT));
    writeI64(io, arg + 24, ioctls);
    return 0;
  }

  /** UFFDIO_UNREGISTER: VMAs of the range leave the file (file mappings in it: EINVAL), its sleepers wake. */
  #unregister(arg: number, io: MemoryIO): number {
    const [start, len] = readU64s(io, arg, 2);
    validateRange(start, len);
    if (this.mm.users <= 0) throw ENOMEM;
    const s = Number(start), e = s + Number(len);
    const vmas = this.mm.vmas.filter((v) => v.start < e && s < v.end);
    if (vmas.length === 0) throw EINVAL;
    if (vmas.some((v) => !anonymous(v) && !(v.file !== null && v.file.shmem))) throw EINVAL;
    for (const v of vmas) {
      if (v.uffd?.ctx !== this) continue;
      const a = Math.max(v.start, s), b = Math.min(v.end, e);
      if (v.uffd.mode & UFFD_MODE_MISSING) this.wake(a, b - a);
      this.mm.dropMarks(a, b, MARK_UFFD_WP);
      this.mm.setUffd(a, b, null);
    }
    // Pages the host still withholds there are given back at their next fault.
    return 0;
  }

  /** The registered VMA holding all of [dst, dst+len) (Linux's validate_dst_vma): ENOENT otherwise. */
  #dstVma(dst: number, len: number): Vma {
    const v = this.mm.findVma(dst);
    if (v === undefined || dst + len > v.end || v.uffd === undefined) throw ENOENT;
    return v;
  }

  #present(page: number): boolean {
    return (this.mm.as.populated?.(page, page + PAGE_SIZE)?.length ?? 1) > 0;
  }

  /**
   * UFFDIO_COPY: the source's range, the destination's, the mode; then page by page while the
   * destination page is missing (EEXIST at the first that is not, EFAULT at a source that
   * cannot be read). `copy` gets the bytes copied or the error; a short copy is EAGAIN.
   */
  #copy(arg: number, io: MemoryIO): number {
    const [dst, src, len, mode] = readU64s(io, arg, 4);
    validateUnaligned(src, len);
    validateRange(dst, len);
    if (mode & ~BigInt(UFFDIO_COPY_MODE_DONTWAKE | UFFDIO_COPY_MODE_WP)) throw EINVAL;
    if (this.mm.users <= 0) throw ESRCH;
    const d = Number(dst), n = Number(len), from = Number(src);
    let ret: number;
    try {
      const v = this.#dstVma(d, n);
      if ((mode & BigInt(UFFDIO_COPY_MODE_WP)) && !(v.uffd!.mode & UFFD_MODE_WP)) throw EINVAL;
      ret = this.#eachMissing(d, n, (page, i) => {
        const data = io.copyIn(from + i, PAGE_SIZE);
        this.mm.as.forceWrite(page, data);
        if (mode & BigInt(UFFDIO_COPY_MODE_WP)) this.mm.addMarks(page, page + PAGE_SIZE, MARK_UFFD_WP);
      });
    } catch (e) {
      ret = -errnoOf(e);
    }
    writeI64(io, arg + 32, BigInt(ret));
    return this.#finish(ret, d, n, (mode & BigInt(UFFDIO_COPY_MODE_DONTWAKE)) !== 0n);
  }

  /** UFFDIO_ZEROPAGE and UFFDIO_POISON: zero-filled or poisoned pages where they are missing. */
  #fill(arg: number, io: MemoryIO, kind: "zero" | "poison"): number {
    const [start, len, mode] = readU64s(io, arg, 3);
    validateRange(start, len);
    const dontWake = kind === "zero" ? UFFDIO_ZEROPAGE_MODE_DONTWAKE : UFFDIO_POISON_MODE_DONTWAKE;
    if (mode & ~BigInt(dontWake)) throw EINVAL;
    if (this.mm.users <= 0) throw ESRCH;
    const d = Number(start), n = Number(len);
    const zeros = new Uint8Array(PAGE_SIZE);
    let ret: number;
    try {
      this.#dstVma(d, n);
      ret = this.#eachMissing(d, n, (page) => {
        if (kind === "zero") this.mm.as.forceWrite(page, zeros);
        else this.mm.addMarks(page, page + PAGE_SIZE, MARK_POISON);
      });
    } catch (e) {
      ret = -errnoOf(e);
    }
    if (kind === "poison") {
      const via = this.#via();
      if (via !== null && ret > 0) this.mm.syncWithheld(via, d, d + ret);
    }
    writeI64(io, arg + 24, BigInt(ret));
    return this.#finish(ret, d, n, (mode & BigInt(dontWake)) !== 0n);
  }

  /**
   * Runs fill on each page of [dst, dst+len) in order while it is missing; the bytes done, or
   * the error when the first page already fails (EEXIST: present).
   */
  #eachMissing(dst: number, len: number, fill: (page: number, offset: number) => void): number {
    let done = 0;
    try {
      for (; done < len; done += PAGE_SIZE) {
        const page = dst + done;
        if (this.#present(page) || (this.mm.pageMarks?.get(page) ?? 0) & MARK_POISON) throw EEXIST;
        fill(page, done);
      }
    } catch (e) {
      if (done === 0) throw e;
    }
    return done;
  }

  /** The end of a filling ioctl: its error, else its wake-up and EAGAIN when short. */
  #finish(ret: number, start: number, len: number, dontWake: boolean): number {
    if (ret < 0) throw errnoFromNumber(-ret);
    if (!dontWake) this.wake(start, ret);
    if (ret !== len) throw EAGAIN;
    return 0;
  }

  /**
   * UFFDIO_MOVE (Linux 6.8's move_pages), within the caller's own address space (EINVAL
   * otherwise): private anonymous VMAs of the same protection on both sides, the destination
   * registered (ENOENT); page by page, a missing source page is ENOENT (skipped with
   * UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES), a present destination page EEXIST. The source page is
   * missing afterwards.
   */
  #move(arg: number, io: MemoryIO): number {
    const caller = this.kernel.current;
    if (this.mm.users <= 0) throw ESRCH;
    if (caller === null || caller.mm !== this.mm) throw EINVAL;
    const [dst, src, len, mode] = readU64s(io, arg, 4);
    validateRange(dst, len);
    validateRange(src, len);
    if (mode & ~BigInt(UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES | UFFDIO_MOVE_MODE_DONTWAKE)) throw EINVAL;
    const d = Number(dst), s = Number(src), n = Number(len);
    let ret: number;
    try {
      if (s + n > d && d + n > s) throw EINVAL;
      const sv = this.mm.findVma(s);
      const dv = this.mm.findVma(d);
      if (sv === undefined || s + n > sv.end || dv === undefined || d + n > dv.end) throw ENOENT;
      if (sv.shared || dv.shared || !anonymous(sv) || !anonymous(dv) || sv.prot !== dv.prot) throw EINVAL;
      if (dv.uffd?.ctx !== this) throw ENOENT;
      const buf = new Uint8Array(PAGE_SIZE);
      let done = 0;
      try {
        for (; done < n; done += PAGE_SIZE) {
          if (!this.#present(s + done)) {
            if (mode & BigInt(UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES)) continue;
            throw ENOENT;
          }
          if (this.#present(d + done)) throw EEXIST;
          if (this.mm.as.read(s + done, buf) !== PAGE_SIZE) throw EFAULT;
          this.mm.as.forceWrite(d + done, buf);
          this.mm.discard(caller.ctx, s + done, PAGE_SIZE);
        }
      } catch (e) {
        if (done === 0) throw e;
      }
      ret = done;
    } catch (e) {
      ret = -errnoOf(e);
    }
    writeI64(io, arg + 32, BigInt(ret));
    return this.#finish(ret, d, n, (mode & BigInt(UFFDIO_MOVE_MODE_DONTWAKE)) !== 0n);
  }

  /**
   * UFFDIO_WRITEPROTECT (mwriteprotect_range): every VMA met must be registered in WP mode
   * (ENOENT, as for none at all); protecting marks the pages that hold data (a missing page has
   * nothing to protect), unprotecting clears them and wakes unless DONTWAKE.
   */
  #writeProtect(arg: number, io: MemoryIO): number {
    const [start, len, mode] = readU64s(io, arg, 3);
    validateRange(start, len);
    if (mode & ~BigInt(UFFDIO_WRITEPROTECT_MODE_DONTWAKE | UFFDIO_WRITEPROTECT_MODE_WP)) throw EINVAL;
    const wp = (mode & BigInt(UFFDIO_WRITEPROTECT_MODE_WP)) !== 0n;
    const dontWake = (mode & BigInt(UFFDIO_WRITEPROTECT_MODE_DONTWAKE)) !== 0n;
    if (wp && dontWake) throw EINVAL;
    const s = Number(start), e = s + Number(len);
    const vmas = this.mm.vmas.filter((v) => v.start < e && s < v.end);
    if (vmas.length === 0 || vmas.some((v) => !(v.uffd !== undefined && (v.uffd.mode & UFFD_MODE_WP)))) throw ENOENT;
    for (const v of vmas) {
      const a = Math.max(v.start, s), b = Math.min(v.end, e);
      if (!wp) {
        this.mm.dropMarks(a, b, MARK_UFFD_WP);
        continue;
      }
      for (const [x, y] of this.mm.as.populated?.(a, b) ?? [[a, b]]) {
        const lo = Math.max(x, a), hi = Math.min(y, b);
        if (lo < hi) this.mm.addMarks(lo - (lo % PAGE_SIZE), hi, MARK_UFFD_WP);
      }
    }
    const via = this.#via();
    if (via !== null) this.mm.syncWithheld(via, s, e);
    if (!wp && !dontWake) this.wake(s, e - s);
    return 0;
  }

  /**
   * UFFDIO_CONTINUE (mfill_atomic_continue): the destination registered (ENOENT) for minor
   * faults (EINVAL); page by page, a page the file does not hold is EFAULT, one this address
   * space maps already EEXIST, else it is mapped (opened on the host). `mapped` gets the bytes
   * done or the error; a short run is EAGAIN.
   */
  #continue(arg: number, io: MemoryIO): number {
    const [start, len, mode] = readU64s(io, arg, 3);
    validateRange(start, len);
    if (mode & ~3n) throw EINVAL;
    if (this.mm.users <= 0) throw ESRCH;
    const d = Number(start), n = Number(len);
    let ret: number;
    try {
      const v = this.#dstVma(d, n);
      if (!(v.uffd!.mode & UFFD_MODE_MINOR) || v.file === null) throw EINVAL;
      const via = this.#via();
      let done = 0;
      try {
        for (; done < n; done += PAGE_SIZE) {
          const page = d + done;
          if (!shmemPageCached(v, page)) throw EFAULT;
          if (!((this.mm.pageMarks?.get(page) ?? 0) & MARK_UFFD_MINOR)) throw EEXIST;
          if (via === null) throw EAGAIN;
          this.mm.dropMarks(page, page + PAGE_SIZE, MARK_UFFD_MINOR);
          this.mm.as.protect(via, page, PAGE_SIZE, v.prot);
        }
      } catch (e) {
        if (done === 0) throw e;
      }
      ret = done;
    } catch (e) {
      ret = -errnoOf(e);
    }
    writeI64(io, arg + 24, BigInt(ret));
    return this.#finish(ret, d, n, (mode & 1n) !== 0n);
  }
}


/** Anonymous memory (private or shared), not the vDSO's special mappings: what can be registered. */
function anonymous(v: Vma): boolean {
  return v.file === null && v.name !== "[vdso]" && v.name !== "[vvar]";
}

function errnoOf(e: unknown): number {
  if (e instanceof Error && "errno" in e && typeof (e as { errno: unknown }).errno === "number") return (e as { errno: number }).errno;
  throw e;
}

/** The first n u64 fields of the caller's struct at arg (the rest of the four: 0). */
function readU64s(io: MemoryIO, arg: number, n: number): [bigint, bigint, bigint, bigint] {
  const b = io.copyIn(arg, 8 * n);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const at = (i: number) => (i < n ? v.getBigUint64(8 * i, true) : 0n);
  return [at(0), at(1), at(2), at(3)];
}

function writeI64(io: MemoryIO, addr: number, x: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, x, true);
  io.copyOut(addr, b);
}

/** Linux's validate_unaligned_range. */
function validateUnaligned(start: bigint, len: bigint): void {
  if (len & 0xfffn) throw EINVAL;
  if (len === 0n) throw EINVAL;
  if (start < BigInt(MMAP_MIN_ADDR)) throw EINVAL;
  if (start >= BigInt(TASK_SIZE)) throw EINVAL;
  if (len > BigInt(TASK_SIZE) - start) throw EINVAL;
}

/** Linux's validate_range: page-aligned, then as validate_unaligned_range. */
function validateRange(start: bigint, len: bigint): void {
  if (start & 0xfffn) throw EINVAL;
  validateUnaligned(start, len);
}

/**
 * userfaultfd(2) and USERFAULTFD_IOC_NEW: flags beyond O_CLOEXEC, O_NONBLOCK and
 * UFFD_USER_MODE_ONLY are EINVAL. The syscall's permission rule (userfaultfd_syscall_allowed)
 * is the caller's: EPERM unless UFFD_USER_MODE_ONLY, CAP_SYS_PTRACE or
 * vm.unprivileged_userfaultfd.
 */
export function newUserfaultFd(t: Task, flags: number, syscall: boolean): number {
  if (syscall && !(flags & UFFD_USER_MODE_ONLY) && !t.creds.hasCap(CAP_SYS_PTRACE) && uffdSysctl.unprivileged === 0) throw EPERM;
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY)) throw EINVAL;
  const f = new UserfaultFd(t.kernel, t.mm, flags);
  return t.fdTable.install(f, (flags & O_CLOEXEC) !== 0);
}

/** @savable /dev/userfaultfd open: USERFAULTFD_IOC_NEW makes userfaultfds without the sysctl's rule. */
export class UserfaultfdDevice extends LocatedFile {
  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd !== USERFAULTFD_IOC_NEW) return super.ioctl(cmd, arg, io);
    return newUserfaultFd(io as Task, arg, false);
  }
}
