/**
 * Test helper: a Task over a fake address space (one flat mapping), so that file syscall
 * handlers run without a platform. Addresses outside the mapping fault (EFAULT) exactly at
 * its edges, which lets tests check partial copies.
 *
 * @module
 */

import { Task } from "../../task.ts";
import type { Kernel } from "../../kernel.ts";
import { LeaseTable } from "../../../vfs/lease.ts";
import type { ThreadGroup } from "../../thread_group.ts";
import type { Context } from "../../../platform/mod.ts";
import { SyscallInfo } from "../../../platform/syscall_info.ts";
import { FdTable } from "../../fd_table.ts";
import { FsContext } from "../../fs_context.ts";
import { Credentials } from "../../creds.ts";
import { Limits } from "../../limits.ts";
import type { VirtualFilesystem } from "../../../vfs/mod.ts";
import { SyscallArgs, type SyscallEntry, type SyscallResult } from "./support.ts";

/** Where the fake mapping starts, and its size. */
export const MEM_BASE = 0x10000;
export const MEM_SIZE = 0x10000;
/** An address nothing is mapped at. */
export const BAD_ADDR = 0x1000;

export class FakeMemory {
  readonly bytes = new Uint8Array(MEM_SIZE);
  /** The mapping as the MemoryManager's VMA list shows it (read-write). */
  readonly vmas = [{ start: MEM_BASE, end: MEM_BASE + MEM_SIZE, prot: 3 }];

  read(addr: number, dst: Uint8Array): number {
    const o = addr - MEM_BASE;
    if (o < 0 || o >= MEM_SIZE) return 0;
    const n = Math.min(dst.length, MEM_SIZE - o);
    dst.set(this.bytes.subarray(o, o + n));
    return n;
  }

  write(addr: number, src: Uint8Array): number {
    const o = addr - MEM_BASE;
    if (o < 0 || o >= MEM_SIZE) return 0;
    const n = Math.min(src.length, MEM_SIZE - o);
    this.bytes.set(src.subarray(0, n), o);
    return n;
  }

  /** No MAP_GROWSDOWN memory here (MemoryManager.copyGrowing): a short copy stays short. */
  copyGrowing(_via: Context, _addr: number, _buf: Uint8Array, done: number): number {
    return done;
  }

  /** As MemoryManager.growsDownAt: nothing here grows. */
  growsDownAt(_addr: number): undefined {
    return undefined;
  }

  /** Puts a NUL-terminated string at addr and returns addr. */
  putString(addr: number, s: string): number {
    const b = new TextEncoder().encode(s + "\0");
    this.bytes.set(b, addr - MEM_BASE);
    return addr;
  }

  get(addr: number, len: number): Uint8Array {
    return this.bytes.slice(addr - MEM_BASE, addr - MEM_BASE + len);
  }

  string(addr: number, len: number): string {
    return new TextDecoder().decode(this.get(addr, len));
  }
}

export interface TestTask {
  t: Task;
  mem: FakeMemory;
  /** Runs syscall nr from tables with the given arguments; LinuxErrors become -errno. */
  call(tables: Record<number, SyscallEntry>, nr: number, ...args: (number | bigint)[]): SyscallResult;
}

export function makeTask(vfs: VirtualFilesystem, creds: Credentials = Credentials.root()): TestTask {
  const mem = new FakeMemory();
  // No run report: the activity hooks (kernel/activity.ts) find no log.
  // No eBPF device program attached (pathCtx asks) and no file lease held (open(2) asks).
  const kernel = { vfs, resources: { activity: null }, bpf: { attached: 0 }, leases: new LeaseTable() } as unknown as Kernel;
  const tg = { mm: mem, limits: Limits.defaults() } as unknown as ThreadGroup;
  const ctx = {} as Context;
  const root = vfs.root();
  const t = new Task({
    kernel, tid: 1, tg, ctx, fdTable: new FdTable(), fs: new FsContext(root, root), creds, name: "test",
  });
  const info = new SyscallInfo();
  return {
    t,
    mem,
    call(tables, nr, ...args) {
      const entry = tables[nr];
      if (entry === undefined) throw new Error(`no syscall ${nr}`);
      info.setFrom(nr, args.map((x) => BigInt.asUintN(64, BigInt(x))), 0, 0);
      try {
        return entry.fn(t, new SyscallArgs(info));
      } catch (e) {
        if (e instanceof Error && "errno" in e) return -(e as { errno: number }).errno;
        throw e;
      }
    },
  };
}
