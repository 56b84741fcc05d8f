/**
 * Test helper: a {@linkcode ProcSource} made of plain objects, for procfs tests without a
 * kernel.
 *
 * @module
 */

import { Credentials } from "../../kernel/creds.ts";
import { WaitQueue } from "../../waiter/mod.ts";
import type { FileDescription } from "../file_description.ts";
import type { Location, Mount, MountNamespace } from "../mount.ts";
import type {
  ProcCaller, ProcFd, ProcMemAccess, ProcMemory, ProcProcess, ProcSource, ProcSystem, ProcThread,
} from "./source.ts";

/** A process whose fields tests set directly. */
export class FakeProcess implements ProcProcess {
  pid: number;
  ppid = 0;
  pgid: number;
  sid: number;
  state = "S";
  comm = "init";
  threads: ProcThread[];
  creds = Credentials.root();
  umask = 0o022;
  startNs = 2_500_000_000;
  userNs = 120_000_000;
  sysNs = 30_000_000;
  childUserNs = 0;
  childSysNs = 0;
  exitSignal = 17;
  sigIgnored = 0n;
  sigCaught = 0n;
  sigSharedPending = 0n;
  noNewPrivs = false;
  seccompMode = 0;
  seccompFilters = 0;
  tracerPid = 0;
  ttyNr = 0;
  tpgid = -1;
  oomScoreAdj = 0;
  cgroupLine = "0::/\n";
  cgroupNsIno = 4026531835;
  mntNs: MountNamespace | null = null;
  nsOf(_type: string): { ino: number; ns: object } | null {
    return null;
  }
  mem: ProcMemory | null = null;
  memoryBytes = new Uint8Array(0);
  memoryBase = 0;
  exeLoc: Location | null = null;
  cwdLoc: Location | null = null;
  rootLoc: Location | null = null;
  files = new Map<number, ProcFd>();

  constructor(pid: number) {
    this.pid = pid;
    this.pgid = pid;
    this.sid = pid;
    this.threads = [{ tid: pid, comm: "init", state: "S", sigPending: 0n, sigBlocked: 0n }];
  }

  memory(): ProcMemory | null {
    return this.mem;
  }

  readMemory(start: number, end: number): Uint8Array {
    return this.memoryBytes.slice(start - this.memoryBase, end - this.memoryBase);
  }

  memoryAccess(): ProcMemAccess | null {
    return {
      live: true,
      read: (addr: number, dst: Uint8Array): number => {
        const src = this.memoryBytes.subarray(Math.max(0, addr - this.memoryBase));
        if (addr < this.memoryBase) return 0;
        const n = Math.min(dst.length, src.length);
        dst.set(src.subarray(0, n));
        return n;
      },
      write: (addr: number, src: Uint8Array): number => {
        if (addr < this.memoryBase) return 0;
        const off = addr - this.memoryBase;
        const n = Math.max(0, Math.min(src.length, this.memoryBytes.length - off));
        this.memoryBytes.set(src.subarray(0, n), off);
        return n;
      },
    };
  }

  coredumpFilter: number | null = 0x33;

  childrenOf(_tid: number): number[] {
    return [];
  }

  io(_tid: number | null): { rchar: number; wchar: number; syscr: number; syscw: number } | null {
    return { rchar: 0, wchar: 0, syscr: 0, syscw: 0 };
  }

  setComm(_tid: number | null, comm: string): boolean {
    this.comm = comm;
    return true;
  }

  exe(): Location | null {
    return this.exeLoc;
  }

  cwd(): Location | null {
    return this.cwdLoc;
  }

  root(): Location | null {
    return this.rootLoc;
  }

  fds(): number[] {
    return [...this.files.keys()].sort((a, b) => a - b);
  }

  fdArraySize(): number {
    return 64;
  }

  fd(n: number): ProcFd | null {
    return this.files.get(n) ?? null;
  }

  /** Installs file at n (the caller keeps its reference). */
  setFd(n: number, file: FileDescription, cloexec = false): void {
    this.files.set(n, { file, cloexec });
  }

  limits(): Array<{ cur: bigint; max: bigint }> {
    const inf = 0xffff_ffff_ffff_ffffn;
    const out = Array.from({ length: 16 }, () => ({ cur: inf, max: inf }));
    out[7] = { cur: 1024n, max: 4096n };
    return out;
  }
}

export const FAKE_SYSTEM: ProcSystem = {
  uptimeNs: 12_340_000_000,
  bootTimeSec: 1_700_000_000,
  hostname: "box",
  domainname: "(none)",
  release: "6.1.0-test",
  version: "#1 SMP",
  lastPid: 7,
  forks: 7,
  ncpus: 2,
  pidMax: 4194304,
  memTotal: 4096 * 1024 * 1024,
  memUsed: 64 * 1024 * 1024,
  cpuinfo: "processor\t: 0\n\n",
};

/** A kernel of FakeProcesses; `callerPid` says whose /proc/self is. */
export class FakeSource implements ProcSource {
  readonly procs = new Map<number, FakeProcess>();
  callerPid: number | null = null;
  callerRoot: Location | null = null;
  mountList: Mount[] = [];

  add(p: FakeProcess): FakeProcess {
    this.procs.set(p.pid, p);
    return p;
  }

  caller(): ProcCaller | null {
    if (this.callerPid === null) return null;
    const p = this.procs.get(this.callerPid)!;
    return { pid: p.pid, tid: p.pid, root: this.callerRoot ?? p.rootLoc!, creds: p.creds };
  }

  pids(): number[] {
    return [...this.procs.keys()].sort((a, b) => a - b);
  }

  process(pid: number): ProcProcess | null {
    return this.procs.get(pid) ?? null;
  }

  tgidOf(tid: number): number | null {
    for (const p of this.procs.values()) if (p.threads.some((t) => t.tid === tid)) return p.pid;
    return null;
  }

  system(): ProcSystem {
    return FAKE_SYSTEM;
  }

  readonly #uts = { count: 0, queue: new WaitQueue() };

  utsChanges(_which: "hostname" | "domainname"): { count: number; queue: WaitQueue } {
    return this.#uts;
  }

  mounts(_ns: MountNamespace | null): Mount[] {
    return this.mountList;
  }
}
