/**
 * The vDSO of one kernel: its ELF image (built by build.ts) and its parameters page ([vvar],
 * layout in vvar.h), held in one sealed memfd of the sentry:
 *
 * ```
 *   offset 0       the parameters page: the sentry's mapping writes it, stubs map it
 *                  MAP_SHARED read-only, so every process sees each update at once
 *   offset 4096    the image, page-aligned: stubs map it MAP_PRIVATE read+exec (a debugger's
 *                  breakpoint copies the page, as on Linux)
 * ```
 *
 * The memfd is sealed against growing, shrinking and any new writable mapping
 * (F_SEAL_FUTURE_WRITE) once the sentry has mapped the page: the host itself refuses an
 * application that tries to make its [vvar] writable, besides the kernel's own check (mm.ts).
 * The exec loader maps both, [vvar] just below [vdso], and passes the image's address as
 * AT_SYSINFO_EHDR; fork copies them with the address space.
 *
 * @module
 */

import * as ffi from "../../platform/ptrace/_ffi.ts";
import type { Context } from "../../platform/mod.ts";
import { PAGE_SIZE, pageRoundUp, PROT_EXEC, PROT_READ } from "../../abi/linux/mm.ts";
import type { MemoryManager } from "../mm/mm.ts";
import { vdsoBuild } from "./build.ts";
import { type ParamsSink, tscClock, writeVvar } from "./clock.ts";

const MFD_ALLOW_SEALING = 2, MFD_EXEC = 0x10;
const F_ADD_SEALS = 1033;
const F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_FUTURE_WRITE = 0x10;

let helper: ffi.ClockHelper | null | undefined;

/** @savable (rebuilt on restore: the host side is not saved) */
export class Vdso implements ParamsSink {
  #closed = false;

  private constructor(
    /** @nosave */ readonly fd: number,
    readonly imageLen: number,
    /** @nosave */ readonly page: { ptr: Deno.PointerObject; base: number },
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
    const page = ffi.hostFtruncate(fd, PAGE_SIZE + imageLen) === 0 &&
        ffi.hostPwrite(fd, img, PAGE_SIZE) === img.length
      ? ffi.hostMapSharedRW(fd, PAGE_SIZE)
      : null;
    if (page === null) {
      ffi.hostClose(fd);
      return "cannot set up the vDSO's memfd";
    }
    // Older hosts lack F_SEAL_FUTURE_WRITE: the kernel's own check on [vvar] still holds.
    ffi.hostFcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
    const v = new Vdso(fd, imageLen, page, 0, helper);
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

  /**
   * Maps [vvar] and [vdso] into a fresh address space (exec), at the top of the free space below
   * the mmap base; returns the image's address (AT_SYSINFO_EHDR). Throws an errno.
   */
  mapInto(mm: MemoryManager, via: Context): number {
    const base = mm.findFree(PAGE_SIZE + this.imageLen);
    this.mapAt(mm, via, base);
    return base + PAGE_SIZE;
  }

  /** Maps [vvar] at base and [vdso] right above it (exec; a restore puts them where they were). Throws an errno. */
  mapAt(mm: MemoryManager, via: Context, base: number): void {
    mm.mapSpecial(via, {
      addr: base, len: PAGE_SIZE, prot: PROT_READ, shared: true, hostFd: this.fd, offset: 0,
      name: "[vvar]",
    });
    mm.mapSpecial(via, {
      addr: base + PAGE_SIZE, len: this.imageLen, prot: PROT_READ | PROT_EXEC, shared: false, hostFd: this.fd,
      offset: PAGE_SIZE, name: "[vdso]",
    });
  }

  /** The kernel is going away: stop publishing and release the host side. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    tscClock.sinks.delete(this);
    ffi.hostUnmapRaw(this.page.ptr, PAGE_SIZE);
    ffi.hostClose(this.fd);
  }
}
