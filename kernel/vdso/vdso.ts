/**
 * The vDSO of one kernel: its ELF image (built by build.ts), its parameters page ([vvar],
 * layout in vvar.h) and the time-namespace pages, held in one sealed memfd of the sentry:
 *
 * ```
 *   offset 0       the parameters page: the sentry's mapping writes it, stubs map it
 *                  MAP_SHARED read-only, so every process sees each update at once
 *   offset 4096    the time-namespace page of no offsets (the sandbox's first namespace)
 *   offset 8192    the image, page-aligned: stubs map it MAP_PRIVATE read+exec (a debugger's
 *                  breakpoint copies the page, as on Linux)
 *   then           the pages of other time namespaces' offsets, one per distinct pair
 * ```
 *
 * A process maps [vvar] as two pages, the parameters page and its time namespace's page, and
 * [vdso] right above them; the vDSO adds the second page's offsets to the monotonic and boottime
 * clocks (Linux maps a timens task a page of its own in its vvar area; here the offsets are
 * always read, one cache line more per call, so that every namespace shares the one parameters
 * page the sentry updates). A namespace's offsets are fixed once a task is in it, so its page is
 * written once; namespaces with the same offsets share a page, and pages are never freed. When
 * all TIMENS_SLOTS are taken, further namespaces get the fallback page, which sends their vDSO
 * calls to the system call (served with the offsets as any other).
 *
 * The memfd is sealed against growing, shrinking and any new writable mapping
 * (F_SEAL_FUTURE_WRITE) once the sentry has mapped it: the host itself refuses an application
 * that tries to make its [vvar] writable, besides the kernel's own check (mm.ts). The exec loader
 * maps both, [vvar] just below [vdso], and passes the image's address as AT_SYSINFO_EHDR; fork
 * copies them with the address space, and a task that enters another time namespace by fork,
 * setns or execve gets its namespace page mapped (`joinTimeNs`, `mapInto`).
 *
 * @module
 */

import * as ffi from "../../platform/ptrace/_ffi.ts";
import type { Context } from "../../platform/mod.ts";
import { PAGE_SIZE, pageRoundUp, PROT_EXEC, PROT_READ } from "../../abi/linux/mm.ts";
import type { MemoryManager } from "../mm/mm.ts";
import { vdsoBuild } from "./build.ts";
import { type ParamsSink, tscClock, writeVvar } from "./clock.ts";
import type { TimeNamespace } from "../time_namespace.ts";

const MFD_ALLOW_SEALING = 2, MFD_EXEC = 0x10;
const F_ADD_SEALS = 1033;
const F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_FUTURE_WRITE = 0x10;

let helper: ffi.ClockHelper | null | undefined;

/** How many namespace pages the memfd holds: the zero page, the fallback page, and the rest. */
export const TIMENS_SLOTS = 256;
/** The slot of the page that sends every clock to the system call. */
const FALLBACK_SLOT = 1;
/** The image's offset in the memfd. */
const IMAGE_OFFSET = 2 * PAGE_SIZE;
/** [vvar]'s length: the parameters page and a time namespace's page. */
export const VVAR_LEN = 2 * PAGE_SIZE;

/** @savable (rebuilt on restore: the host side is not saved) */
export class Vdso implements ParamsSink {
  #closed = false;
  /** @nosave The namespace page of each offset pair written so far ("mono,boot" to its slot); rebuilt as restored tasks map theirs. */
  readonly #slots = new Map<string, number>();

  private constructor(
    /** @nosave */ readonly fd: number,
    readonly imageLen: number,
    /** @nosave The sentry's mapping of the whole memfd: the parameters page at its base. */
    readonly page: { ptr: Deno.PointerObject; base: number; len: number },
    readonly bootOffsetNs: number,
    /** @nosave */ readonly helper: ffi.ClockHelper,
  ) {}

  /**
   * The kernel's vDSO, or a reason why there is none (no gcc, no cache directory, a host that
   * refuses a step): applications then run without one, as before.
   */
  static create(): Vdso | string {
    const b = vdsoBuild();
    if (typeof b === "string") return b;
    const img = b.image;
    if (img.length < 64 || img[0] !== 0x7f || img[1] !== 0x45 || img.length > 16 * PAGE_SIZE) {
      return "the built vDSO is not an ELF image";
    }
    helper ??= ffi.openClockHelper(b.helperPath);
    if (helper === null) return "cannot load the vDSO clock helper";
    let noexec = 0;
    try {
      noexec = Number(Deno.readTextFileSync("/proc/sys/vm/memfd_noexec").trim()) || 0;
    } catch { /* an older kernel: memfds are executable */ }
    const fd = ffi.hostMemfdCreate(MFD_ALLOW_SEALING | (noexec !== 0 ? MFD_EXEC : 0));
    if (fd < 0) return `cannot make the vDSO's memfd: errno ${-fd}`;
    // At least two pages, as Linux's x86-64 vDSO: the second stays zero.
    const imageLen = Math.max(2 * PAGE_SIZE, pageRoundUp(img.length));
    const len = IMAGE_OFFSET + imageLen + (TIMENS_SLOTS - 1) * PAGE_SIZE;
    const mapped = ffi.hostFtruncate(fd, len) === 0 && ffi.hostPwrite(fd, img, IMAGE_OFFSET) === img.length
      ? ffi.hostMapSharedRW(fd, len)
      : null;
    if (mapped === null) {
      ffi.hostClose(fd);
      return "cannot set up the vDSO's memfd";
    }
    const page = { ...mapped, len };
    // Older hosts lack F_SEAL_FUTURE_WRITE: the kernel's own check on [vvar] still holds.
    ffi.hostFcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
    const v = new Vdso(fd, imageLen, page, 0, helper);
    v.#writeSlot(FALLBACK_SLOT, { fallback: true, mono: 0n, boot: 0n });
    if (tscClock.start(helper)) {
      tscClock.sinks.add(v);
      if (tscClock.active) v.publish(tscClock.params);
    }
    return v;
  }

  /** Publishes new clock parameters into this kernel's page. */
  publish(params: BigInt64Array): void {
    if (!this.#closed) writeVvar(this.helper, this.page.base, params, this.bootOffsetNs);
  }

  /** The memfd offset of namespace page `slot` (0: no offsets, right after the parameters page). */
  #slotOffset(slot: number): number {
    return slot === 0 ? PAGE_SIZE : IMAGE_OFFSET + this.imageLen + (slot - 1) * PAGE_SIZE;
  }

  /** Writes a namespace page (vvar.h's struct vvar_ns) through the sentry's mapping. */
  #writeSlot(slot: number, o: { fallback: boolean; mono: bigint; boot: bigint }): void {
    const b = new Uint8Array(24);
    const v = new DataView(b.buffer);
    v.setUint32(4, o.fallback ? 1 : 0, true);
    v.setBigInt64(8, BigInt.asIntN(64, o.mono), true);
    v.setBigInt64(16, BigInt.asIntN(64, o.boot), true);
    ffi.copyToRaw(this.page.base + this.#slotOffset(slot), b);
  }

  /** The memfd offset of the page holding `ns`'s offsets, written at its first use. */
  #nsPageOffset(ns: TimeNamespace): number {
    if (!ns.shifted) return this.#slotOffset(0);
    const key = `${ns.monotonicNs},${ns.boottimeNs}`;
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = this.#slots.size + 2;
      if (slot >= TIMENS_SLOTS) return this.#slotOffset(FALLBACK_SLOT);
      this.#writeSlot(slot, { fallback: false, mono: ns.monotonicNs, boot: ns.boottimeNs });
      this.#slots.set(key, slot);
    }
    return this.#slotOffset(slot);
  }

  /**
   * Maps [vvar] and [vdso] into a fresh address space (exec) for a task of time namespace `ns`,
   * at the top of the free space below the mmap base; returns the image's address
   * (AT_SYSINFO_EHDR). Throws an errno.
   */
  mapInto(mm: MemoryManager, via: Context, ns: TimeNamespace): number {
    const base = mm.findFree(VVAR_LEN + this.imageLen);
    this.mapAt(mm, via, base, ns);
    return base + VVAR_LEN;
  }

  /** Maps [vvar] at base and [vdso] right above it (exec; a restore puts them where they were). Throws an errno. */
  mapAt(mm: MemoryManager, via: Context, base: number, ns: TimeNamespace): void {
    if (!ns.shifted) {
      // The parameters page and the zero page lie side by side in the memfd: one mapping.
      mm.mapSpecial(via, { addr: base, len: VVAR_LEN, prot: PROT_READ, shared: true, hostFd: this.fd, offset: 0, name: "[vvar]" });
    } else {
      mm.mapSpecial(via, { addr: base, len: PAGE_SIZE, prot: PROT_READ, shared: true, hostFd: this.fd, offset: 0, name: "[vvar]" });
      this.#mapNsPage(mm, via, base + PAGE_SIZE, ns);
    }
    mm.mapSpecial(via, {
      addr: base + VVAR_LEN, len: this.imageLen, prot: PROT_READ | PROT_EXEC, shared: false, hostFd: this.fd,
      offset: IMAGE_OFFSET, name: "[vdso]",
    });
  }

  #mapNsPage(mm: MemoryManager, via: Context, addr: number, ns: TimeNamespace): void {
    mm.mapSpecial(via, {
      addr, len: PAGE_SIZE, prot: PROT_READ, shared: true, hostFd: this.fd, offset: this.#nsPageOffset(ns), name: "[vvar]",
    });
  }

  /**
   * A task with address space `mm` entered time namespace `ns` (a fork's child, setns): its
   * [vvar]'s namespace page becomes `ns`'s (vdso_join_timens). Nothing when the application
   * unmapped or moved [vvar] apart from [vdso]. Throws an errno.
   */
  joinTimeNs(mm: MemoryManager, via: Context, ns: TimeNamespace): void {
    const v = mm.vmas.find((x) => x.file === null && x.name === "[vvar]" && x.end - x.start === VVAR_LEN);
    if (v !== undefined) this.#mapNsPage(mm, via, v.start + PAGE_SIZE, ns);
  }

  /** The kernel is going away: stop publishing and release the host side. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    tscClock.sinks.delete(this);
    ffi.hostUnmapRaw(this.page.ptr, this.page.len);
    ffi.hostClose(this.fd);
  }
}
