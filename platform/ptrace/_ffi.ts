/**
 * The only Deno.dlopen in sentry: typed bindings to the few libc functions the ptrace platform needs. All pointer arithmetic stays in this file, as gVisor confines unsafe code to
 * `*_unsafe.go`.
 *
 * Every call here is synchronous and so runs on the JavaScript thread. That matters: ptrace
 * requests are only accepted from the thread that attached the tracee, and that thread is the
 * JavaScript thread. errno is read right after each call, before any other libc call can run on
 * this thread.
 *
 * @module
 */

import { encodePathInto } from "../../abi/path_bytes.ts";

/** The address of a function of libc (RTLD_DEFAULT: null), for the bindings below. */
const dlsym = Deno.dlopen("libc.so.6", {
  dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
}).symbols.dlsym;

/**
 * The functions of the hot paths (every stop, every memory copy, file walks). A start binds
 * them through function pointers (dlsym; Deno.UnsafeFnPointer: ~1 µs more a call, no
 * trampoline), and {@linkcode bindFastCalls}, once a run has made enough calls to gain, binds
 * them again by a dlopen, whose fast calls cost Deno a Cranelift trampoline per symbol (~0.1
 * ms each, ~4 ms for these): a `do -- /bin/true` makes too few calls to earn that back.
 */
const hotSymbols = {
  ptrace: { parameters: ["i32", "i32", "i64", "i64"], result: "i64" },
  ptrace_buf: { name: "ptrace", parameters: ["i32", "i32", "i64", "buffer"], result: "i64" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  wait4: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },
  waitid_async: {
    name: "waitid",
    parameters: ["i32", "i32", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  process_vm_readv: {
    parameters: ["i32", "buffer", "u64", "buffer", "u64", "u64"],
    result: "i64",
  },
  process_vm_writev: {
    parameters: ["i32", "buffer", "u64", "buffer", "u64", "u64"],
    result: "i64",
  },
  sched_setaffinity: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  gettid: { parameters: [], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "u64", "i64"], result: "i64" },
  pwrite: { parameters: ["i32", "buffer", "u64", "i64"], result: "i64" },
  read: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  write: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  mmap: { parameters: ["pointer", "u64", "i32", "i32", "i32", "i64"], result: "pointer" },
  mprotect: { parameters: ["pointer", "u64", "i32"], result: "i32" },
  timer_settime: { parameters: ["pointer", "i32", "buffer", "buffer"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  // vfs/hostfs and vfs/host_file: per-component walks of the sandbox root, host stdio.
  openat: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  fstatat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  readlinkat: { parameters: ["i32", "buffer", "buffer", "u64"], result: "i64" },
  getdents64: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
  poll_async: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // vfs/tmpfs: file data in memfds (so that MAP_SHARED maps the same pages everywhere).
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  sendfile: { parameters: ["i32", "i32", "buffer", "u64"], result: "i64" },
  munmap: { parameters: ["pointer", "u64"], result: "i32" },
  // The memory file: copies between the sentry's buffers and its mapping (raw addresses).
  memcpy_to_raw: { name: "memcpy", parameters: ["u64", "buffer", "usize"], result: "void" },
  memcpy_from_raw: { name: "memcpy", parameters: ["buffer", "u64", "usize"], result: "void" },
  memmove_raw: { name: "memmove", parameters: ["u64", "u64", "usize"], result: "void" },
} as const;
type HotSymbols = Deno.DynamicLibrary<typeof hotSymbols>["symbols"];

/** The hot functions: bound through function pointers until bindFastCalls. */
let libc: HotSymbols = pointerBound(hotSymbols) as HotSymbols;
let fastCalls = false;

/** Each function of `defs` bound through its address (dlsym), without a trampoline. */
function pointerBound(defs: Record<string, Deno.ForeignFunction>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defs)) out[key] = bindPointer(key, def);
  return out;
}

function bindPointer(key: string, def: Deno.ForeignFunction & { name?: string }): unknown {
  const at = dlsym(null, new TextEncoder().encode(`${def.name ?? key}\0`));
  if (at === null) throw new Error(`libc has no ${def.name ?? key}`);
  const fn = new Deno.UnsafeFnPointer(at as Deno.PointerObject<Deno.UnsafeCallbackDefinition>, {
    parameters: def.parameters,
    result: def.result,
    ...(def.nonblocking ? { nonblocking: true } : {}),
  });
  return fn.call.bind(fn);
}

/**
 * Binds the hot functions with Deno's fast calls (see hotSymbols): the platform calls it once a
 * run has stopped its stubs often. Idempotent.
 */
export function bindFastCalls(): void {
  if (fastCalls) return;
  fastCalls = true;
  libc = Deno.dlopen("libc.so.6", hotSymbols).symbols;
  bindClockHelperFast();
}

/**
 * Functions called a few times a run at most, each bound at its first call through a function
 * pointer (dlsym; Deno.UnsafeFnPointer): Deno compiles a fast-call trampoline for every symbol
 * of a dlopen (~0.1 ms each here), which a function pointer does not need; its calls take the
 * slower generic path (~2 µs), which these can afford. Binding the ~20 of them a `do` uses as
 * symbols cost ~2-3 ms of every start.
 */
const rareSymbols = {
  // Starting a stub (once per zygote), the sentry's own set-up.
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  sched_getcpu: { parameters: [], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  isatty: { parameters: ["i32"], result: "i32" },
  sigaction: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  timer_create: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  sched_getaffinity: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  syscall3: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  getrandom: { parameters: ["buffer", "u64", "u32"], result: "i64" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  // vfs/hostfs writable mode: every change relative to a held directory descriptor.
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  linkat: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "i32" },
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  fchmodat: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  fsync: { parameters: ["i32"], result: "i32" },
  // statfs(2) of a bind mount: the host filesystem's figures, as Linux shows them.
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
  // The control socket (boot/control_*.ts): AF_UNIX stream sockets passing descriptors.
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "i64" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "i64" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  // A network namespace's devices (platform/ptrace/host_netns.ts): packet sockets, rtnetlink.
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "u64", "i32"], result: "i64" },
  recv: { parameters: ["i32", "buffer", "u64", "i32"], result: "i64" },
  setsid: { parameters: [], result: "i32" },
  // The clock helper (openClockHelper), loaded without Deno's trampolines.
  dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
} as const;
type RareSymbols = Deno.DynamicLibrary<typeof rareSymbols>["symbols"];
const rareBound: Partial<Record<keyof RareSymbols, unknown>> = {};
const rareLib = new Proxy({} as RareSymbols, {
  get(_target, name: string) {
    const key = name as keyof typeof rareSymbols;
    if (!(key in rareSymbols)) return undefined;
    return rareBound[key] ??= bindRare(key);
  },
});

function bindRare(key: keyof typeof rareSymbols): unknown {
  return bindPointer(key, rareSymbols[key]);
}

/** The rarely used functions, each bound at its first call. */
function rare(): RareSymbols {
  return rareLib;
}
const errnoPtr = libc.__errno_location();
if (errnoPtr === null) throw new Error("libc returned no errno location");
const errnoView = new Deno.UnsafePointerView(errnoPtr);

/** The calling (JavaScript) thread's errno after the last failing call. */
export function errno(): number {
  return errnoView.getInt32();
}

const EINTR = 4;

/**
 * Runs an int-returning host call (-1 and errno on failure) until it is not interrupted
 * (EINTR: see the wake-up alarm below); returns its result or -errno.
 */
function retryInt(f: () => number): number {
  for (;;) {
    const r = f();
    if (r !== -1) return r;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/** {@linkcode retryInt} for calls returning a 64-bit count (ssize_t); returns it as a number. */
function retryBig(f: () => bigint): number {
  for (;;) {
    const r = f();
    if (r !== -1n) return Number(r);
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/** A host call failed; carries the host errno. Platform-internal: never reaches the app. */
export class HostError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call} failed on the host: errno ${errno}`);
    this.name = "HostError";
  }
}

// ---- ptrace -------------------------------------------------------------------------------

export const PTRACE_TRACEME = 0;
export const PTRACE_PEEKUSER = 3;
export const PTRACE_POKEUSER = 6;
export const PTRACE_CONT = 7;
export const PTRACE_KILL = 8;
export const PTRACE_GETREGS = 12;
export const PTRACE_SETREGS = 13;
export const PTRACE_GETFPREGS = 14;
export const PTRACE_SETFPREGS = 15;
export const PTRACE_SYSEMU = 31;
export const PTRACE_SYSEMU_SINGLESTEP = 32;
export const PTRACE_SETOPTIONS = 0x4200;
export const PTRACE_GETEVENTMSG = 0x4201;
export const PTRACE_GETSIGINFO = 0x4202;
export const PTRACE_GETREGSET = 0x4204;
export const PTRACE_SETREGSET = 0x4205;
export const PTRACE_SEIZE = 0x4206;
export const PTRACE_INTERRUPT = 0x4207;
export const PTRACE_GET_SYSCALL_INFO = 0x420e;

export const PTRACE_O_TRACESYSGOOD = 0x1;
export const PTRACE_O_TRACEFORK = 0x2;
export const PTRACE_O_TRACEVFORK = 0x4;
export const PTRACE_O_TRACECLONE = 0x8;
export const PTRACE_O_EXITKILL = 0x100000;

export const PTRACE_EVENT_FORK = 1;
export const PTRACE_EVENT_VFORK = 2;
export const PTRACE_EVENT_CLONE = 3;
export const PTRACE_EVENT_STOP = 128;

/**
 * ptrace(2) with integer address and data; throws HostError on failure. Not for PEEK requests,
 * whose results may legitimately be -1.
 */
export function ptrace(req: number, pid: number, addr: number, data: number): void {
  const r = libc.ptrace(req, pid, BigInt(addr), BigInt(data));
  if (r === -1n) throw new HostError(`ptrace(${req}, ${pid})`, errno());
}

/** PTRACE_POKEUSER of a 64-bit word: 0 or -errno (the caller decides what a refusal means). */
export function pokeUser(pid: number, off: number, word: bigint): number {
  const r = libc.ptrace(PTRACE_POKEUSER, pid, BigInt(off), BigInt.asIntN(64, word));
  return r === -1n ? -errno() : 0;
}

/** PTRACE_PEEKUSER: the word (glibc's wrapper returns it; -1 is also its failure, taken as the word). */
export function peekUser(pid: number, off: number): bigint {
  return BigInt.asUintN(64, libc.ptrace(PTRACE_PEEKUSER, pid, BigInt(off), 0n));
}

/** ptrace(2) whose data argument is a buffer the kernel reads or fills. Returns the result. */
export function ptraceBuf(req: number, pid: number, addr: number, buf: Uint8Array): number {
  const r = libc.ptrace_buf(req, pid, BigInt(addr), buf as Uint8Array<ArrayBuffer>);
  if (r === -1n) throw new HostError(`ptrace(${req}, ${pid})`, errno());
  return Number(r);
}

const regsetIov = new BigUint64Array(2);
const regsetIovBytes = new Uint8Array(regsetIov.buffer);

/**
 * Scratch memory whose address is taken once: copying through it is cheaper than asking Deno
 * for the address of every caller's buffer (Deno.UnsafePointer.of), and a register set or a
 * small memory copy then allocates no fresh pages. Off the V8 heap (large), so it never moves.
 */
const SCRATCH_SIZE = 64 << 10;
const scratch = new Uint8Array(SCRATCH_SIZE);
const scratchAddr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(scratch)));

/** The address of buf's bytes for an iovec. */
function addressOf(buf: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>)));
}

/**
 * PTRACE_GETREGSET / PTRACE_SETREGSET of one register set into or from buf. Returns the bytes
 * the kernel used (for GETREGSET, the size of the set).
 */
export function ptraceRegset(req: number, pid: number, type: number, buf: Uint8Array): number {
  regsetIov[0] = addressOf(buf);
  regsetIov[1] = BigInt(buf.length);
  const r = libc.ptrace_buf(req, pid, BigInt(type), regsetIovBytes);
  if (r === -1n) throw new HostError(`ptrace(${req}, ${pid})`, errno());
  return Number(regsetIov[1]);
}

/** PTRACE_GETREGSET of one register set (at most 64 KiB): a copy of exactly its bytes. */
export function ptraceGetRegset(pid: number, type: number): Uint8Array {
  regsetIov[0] = scratchAddr;
  regsetIov[1] = BigInt(SCRATCH_SIZE);
  const r = libc.ptrace_buf(PTRACE_GETREGSET, pid, BigInt(type), regsetIovBytes);
  if (r === -1n) throw new HostError(`ptrace(GETREGSET, ${pid})`, errno());
  return scratch.slice(0, Number(regsetIov[1]));
}

/** PTRACE_SETREGSET of one register set from data (at most 64 KiB). */
export function ptraceSetRegset(pid: number, type: number, data: Uint8Array): void {
  if (data.length > SCRATCH_SIZE) {
    ptraceRegset(PTRACE_SETREGSET, pid, type, data);
    return;
  }
  scratch.set(data);
  regsetIov[0] = scratchAddr;
  regsetIov[1] = BigInt(data.length);
  const r = libc.ptrace_buf(PTRACE_SETREGSET, pid, BigInt(type), regsetIovBytes);
  if (r === -1n) throw new HostError(`ptrace(SETREGSET, ${pid})`, errno());
}

// ---- wait ---------------------------------------------------------------------------------

export const WNOHANG = 1;
export const WUNTRACED = 2;
export const WSTOPPED = 2;
export const WEXITED = 4;
export const WNOWAIT = 0x01000000;
export const __WALL = 0x40000000;
export const P_ALL = 0;
export const P_PID = 1;

const statusBuf = new Int32Array(1);
const statusBytes = new Uint8Array(statusBuf.buffer);

/** A decoded wait status: the pid and raw status word, or null when nothing was ready. */
export interface WaitResult {
  pid: number;
  status: number;
}

/**
 * waitpid(2). Returns null for WNOHANG with nothing ready, and "eintr" when a signal cut a
 * blocking wait short (the wake-up alarm of {@linkcode armWakeAlarm}).
 */
export function waitpid(pid: number, options: number): WaitResult | null | "eintr" {
  const r = libc.waitpid(pid, statusBytes, options);
  if (r === -1) {
    const e = errno();
    if (e === EINTR || implausibleWaitErrno(e)) return "eintr";
    throw new HostError("waitpid", e);
  }
  waitErrnoOddities = 0;
  if (r === 0) return null;
  return { pid: r, status: statusBuf[0]! };
}

const ECHILD = 10, EINVAL = 22;
let waitErrnoOddities = 0;

/**
 * Whether a failed wait's errno is one wait4(2) never gives (it gives ECHILD, EINTR or EINVAL),
 * the first few times in a row: errno is read by a second call after the wait's, and once, under
 * load, a wait "failed" with ENOENT (the sentry ended with an internal error), errno evidently
 * set by something that ran on this thread in between. The wait is then simply made again
 * (its callers loop on "eintr"); a real failure shows again and is reported after three.
 */
function implausibleWaitErrno(e: number): boolean {
  if (e === ECHILD || e === EINVAL) return false;
  return ++waitErrnoOddities <= 3;
}

const rusageBuf = new BigInt64Array(18); // struct rusage: 144 bytes
const rusageBytes = new Uint8Array(rusageBuf.buffer);

/** What wait4(2) reports of a reaped process: its CPU time over its whole life and peak RSS. */
export interface ReapedUsage {
  status: number;
  userNs: number;
  sysNs: number;
  maxRssKb: number;
}

/**
 * wait4(2) for one pid (blocking, retried on EINTR) with its rusage. Returns null if what came
 * was a stop rather than an exit (the caller decides what to do with the stopped thread).
 */
export function wait4(pid: number, options: number): ReapedUsage | null {
  for (;;) {
    const r = libc.wait4(pid, statusBytes, options, rusageBytes);
    if (r === -1) {
      const e = errno();
      if (e === EINTR || implausibleWaitErrno(e)) continue;
      throw new HostError("wait4", e);
    }
    waitErrnoOddities = 0;
    const status = statusBuf[0]!;
    if ((status & 0xff) === 0x7f) return null;
    const tv = (i: number) => Number(rusageBuf[i]!) * 1e9 + Number(rusageBuf[i + 1]!) * 1000;
    return { status, userNs: tv(0), sysNs: tv(2), maxRssKb: Number(rusageBuf[4]!) };
  }
}

/**
 * Waits on a thread of Deno's pool until some child has a state change, without consuming it
 * (WNOWAIT). The JavaScript thread then collects the event with a synchronous waitpid. Lets the
 * event loop run while every task is in user mode.
 */
export async function waitAnyAsync(): Promise<void> {
  const info = new Uint8Array(128);
  const r = await libc.waitid_async(P_ALL, 0, info, WEXITED | WSTOPPED | WNOWAIT | __WALL);
  if (r === -1) {
    // ECHILD: no children at all. Callers only wait when some child is running.
  }
}

// ---- processes ----------------------------------------------------------------------------

function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** Keeps strings passed to posix_spawn alive until the call returns. */
function pointerArray(strings: Uint8Array[]): BigUint64Array {
  const a = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => {
    a[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s as Uint8Array<ArrayBuffer>)));
  });
  return a;
}

const POSIX_SPAWN_SETSID = 0x80;

/**
 * Starts `path` as a new child with posix_spawn (no JavaScript runs in the child), every file
 * descriptor closed (the child starts with no host file at all), in a session of its own (a
 * Ctrl-C on the user's terminal reaches the sentry, which forwards it, never the stub).
 */
export function spawnClean(path: string, argv: string[]): number {
  const fa = new Uint8Array(80); // sizeof(posix_spawn_file_actions_t) is 80 on x86-64 glibc
  const attr = new Uint8Array(336); // sizeof(posix_spawnattr_t) is 336 on x86-64 glibc
  if (rare().posix_spawn_file_actions_init(fa) !== 0) throw new HostError("posix_spawn_file_actions_init", errno());
  rare().posix_spawnattr_init(attr);
  rare().posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID);
  try {
    const rc = rare().posix_spawn_file_actions_addclosefrom_np(fa, 0);
    if (rc !== 0) throw new HostError("posix_spawn_file_actions_addclosefrom_np", rc);
    const pidBuf = new Int32Array(1);
    const argvStrs = argv.map(cstr);
    const argvArr = pointerArray(argvStrs);
    const envArr = pointerArray([]);
    const r = rare().posix_spawn(
      new Uint8Array(pidBuf.buffer),
      cstr(path),
      fa,
      attr,
      new Uint8Array(argvArr.buffer),
      new Uint8Array(envArr.buffer),
    );
    if (r !== 0) throw new HostError("posix_spawn", r);
    return pidBuf[0]!;
  } finally {
    rare().posix_spawn_file_actions_destroy(fa);
    rare().posix_spawnattr_destroy(attr);
  }
}

export function kill(pid: number, sig: number): number {
  return libc.kill(pid, sig) === -1 ? errno() : 0;
}

/**
 * Makes the sentry a child subreaper (PR_SET_CHILD_SUBREAPER): stubs orphaned by the death of
 * their parent stub come back to it, so that it can reap them. Returns the host errno, 0 on
 * success.
 */
export function becomeSubreaper(): number {
  return rare().prctl(36, 1n, 0n, 0n, 0n) === -1 ? errno() : 0;
}

export function hostPid(): number {
  return rare().getpid();
}

export function hostTid(): number {
  return libc.gettid();
}

export function currentCpu(): number {
  return rare().sched_getcpu();
}

/** Binds a host thread to one CPU. Returns the host errno, 0 on success. */
export function setAffinity(tid: number, cpus: number[]): number {
  const set = new Uint8Array(128);
  for (const c of cpus) set[c >> 3]! |= 1 << (c & 7);
  return libc.sched_setaffinity(tid, 128n, set) === -1 ? errno() : 0;
}

/** The CPUs a host thread may run on. */
export function getAffinity(tid: number): number[] {
  const set = new Uint8Array(128);
  if (rare().sched_getaffinity(tid, 128n, set) === -1) throw new HostError("sched_getaffinity", errno());
  const cpus: number[] = [];
  for (let i = 0; i < 1024; i++) if (set[i >> 3]! & (1 << (i & 7))) cpus.push(i);
  return cpus;
}

// ---- memory of another process --------------------------------------------------------------

// The iovecs are written as 32-bit halves: no BigInt per call.
const localIov = new Uint32Array(4);
const remoteIov = new Uint32Array(4);
const localIovBytes = new Uint8Array(localIov.buffer);
const remoteIovBytes = new Uint8Array(remoteIov.buffer);

/**
 * Small transfers go through this buffer, whose address is taken once: taking the address of a
 * small typed array (Deno.UnsafePointer.of) makes V8 move its bytes off its heap, a malloc per
 * call, which costs more than the copy here. Larger arrays live off the heap already.
 */
const BOUNCE_SIZE = 4096;
const bounce = new Uint8Array(new ArrayBuffer(BOUNCE_SIZE));
const bounceAddr = Deno.UnsafePointer.value(Deno.UnsafePointer.of(bounce));

function setIov(iov: Uint32Array, addr: number | bigint, len: number): void {
  const a = typeof addr === "bigint" ? Number(addr) : addr;
  iov[0] = a >>> 0;
  iov[1] = Math.floor(a / 0x1_0000_0000);
  iov[2] = len >>> 0;
  iov[3] = Math.floor(len / 0x1_0000_0000);
}

/** process_vm_readv/writev of one range between local memory at `local` and remote `addr`. */
function vmTransfer(write: boolean, pid: number, local: number | bigint, addr: number, len: number): number {
  setIov(localIov, local, len);
  setIov(remoteIov, addr, len);
  const r = write
    ? libc.process_vm_writev(pid, localIovBytes, 1n, remoteIovBytes, 1n, 0n)
    : libc.process_vm_readv(pid, localIovBytes, 1n, remoteIovBytes, 1n, 0n);
  return r === -1n ? -errno() : Number(r);
}

/**
 * process_vm_readv of one range. Returns bytes copied (short at the first inaccessible page), or
 * -errno.
 */
export function vmRead(pid: number, addr: number, dst: Uint8Array): number {
  const len = dst.length;
  if (len === 0) return 0;
  if (len <= BOUNCE_SIZE) {
    const r = vmTransfer(false, pid, bounceAddr, addr, len);
    if (r > 0) dst.set(bounce.subarray(0, r));
    return r;
  }
  return vmTransfer(false, pid, Deno.UnsafePointer.value(Deno.UnsafePointer.of(dst as Uint8Array<ArrayBuffer>)), addr, len);
}

/** process_vm_writev of one range; same contract as {@linkcode vmRead}. */
export function vmWrite(pid: number, addr: number, src: Uint8Array): number {
  const len = src.length;
  if (len === 0) return 0;
  if (len <= BOUNCE_SIZE) {
    bounce.set(src);
    return vmTransfer(true, pid, bounceAddr, addr, len);
  }
  return vmTransfer(true, pid, Deno.UnsafePointer.value(Deno.UnsafePointer.of(src as Uint8Array<ArrayBuffer>)), addr, len);
}

// ---- host files (for the sentry's own reads of the sandbox root) ---------------------------

export const O_RDONLY = 0;
export const O_PATH = 0o10000000;
export const O_NOFOLLOW = 0o400000;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;

/** open(2) on the host, retried on EINTR; returns fd or -errno. */
export function hostOpen(path: string, flags: number): number {
  const p = cstr(path);
  return retryInt(() => libc.open(p, flags, 0));
}

export function hostClose(fd: number): void {
  libc.close(fd);
}

/** pread(2) on the host, retried on EINTR; returns bytes or -errno. */
export function hostPread(fd: number, dst: Uint8Array, offset: number): number {
  return retryBig(() => libc.pread(fd, dst, BigInt(dst.length), BigInt(offset)));
}

/** pwrite(2) on the host, retried on EINTR; returns bytes or -errno. */
export function hostPwrite(fd: number, src: Uint8Array, offset: number): number {
  return retryBig(() => libc.pwrite(fd, src, BigInt(src.length), BigInt(offset)));
}

/** read(2) on the host, retried on EINTR; returns bytes or -errno. */
export function hostRead(fd: number, dst: Uint8Array): number {
  return retryBig(() => libc.read(fd, dst, BigInt(dst.length)));
}

/** write(2) on the host, retried on EINTR; returns bytes or -errno. */
export function hostWrite(fd: number, src: Uint8Array): number {
  return retryBig(() => libc.write(fd, src, BigInt(src.length)));
}

export function hostIsatty(fd: number): boolean {
  return rare().isatty(fd) === 1;
}

/** ioctl(2) with a buffer argument (a query: safe to repeat), retried on EINTR; returns 0 or -errno. */
export function hostIoctl(fd: number, req: number, buf: Uint8Array): number {
  const r = retryInt(() => rare().ioctl(fd, BigInt(req), buf));
  return r < 0 ? r : 0;
}

/** fstat(2), retried on EINTR: the raw 144-byte struct stat, or -errno. */
export function hostFstat(fd: number, buf: Uint8Array): number {
  return retryInt(() => libc.fstat(fd, buf));
}

/** fstatfs(2) into buf (struct statfs, 120 bytes); -1 with errno on failure. */
export function hostFstatfs(fd: number, buf: Uint8Array): number {
  return retryInt(() => rare().fstatfs(fd, buf));
}

// ---- host files by descriptor (vfs/hostfs: every walk goes one component at a time) --------

const pathScratch = new Uint8Array(4096 + 1);
/** pathScratch less room for the NUL. Names are bytes: abi/path_bytes.ts. */
const pathRoom = pathScratch.subarray(0, pathScratch.length - 1);

/**
 * Encodes one path (a single component for the *at calls below) as a C string into a scratch
 * buffer; valid until the next call. Returns null if it does not fit (ENAMETOOLONG).
 */
function scratchCstr(name: string): Uint8Array | null {
  const n = encodePathInto(name, pathRoom);
  if (n < 0) return null;
  pathScratch[n] = 0;
  return pathScratch;
}

const ENAMETOOLONG_HOST = 36;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;

/** openat(2) on the host; returns fd or -errno. */
export function hostOpenat(dirfd: number, name: string, flags: number, mode = 0): number {
  const p = scratchCstr(name);
  if (p === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => libc.openat(dirfd, p, flags, mode));
}

/** fstatat(2) into a raw 144-byte struct stat, retried on EINTR; returns 0 or -errno. */
export function hostFstatat(dirfd: number, name: string, buf: Uint8Array, flags: number): number {
  const p = scratchCstr(name);
  if (p === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => libc.fstatat(dirfd, p, buf, flags));
}

/** readlinkat(2) into buf, retried on EINTR; returns the length (possibly truncated to buf) or -errno. */
export function hostReadlinkat(dirfd: number, name: string, buf: Uint8Array): number {
  const p = scratchCstr(name);
  if (p === null) return -ENAMETOOLONG_HOST;
  return retryBig(() => libc.readlinkat(dirfd, p, buf, BigInt(buf.length)));
}

/**
 * getdents64(2): raw struct linux_dirent64 records into buf; returns bytes, 0 at end, or
 * -errno. Retried on EINTR, which Linux returns only when no record was copied (the position
 * did not move).
 */
export function hostGetdents64(fd: number, buf: Uint8Array): number {
  return retryBig(() => libc.getdents64(fd, buf, BigInt(buf.length)));
}

export const F_GETFL = 3;

/** fcntl(2) with an integer argument, retried on EINTR; returns the result or -errno. */
export function hostFcntl(fd: number, cmd: number, arg: number): number {
  return retryInt(() => libc.fcntl(fd, cmd, BigInt(arg)));
}

/** lseek(2) on the host; returns the new offset or -errno. */
export function hostLseek(fd: number, offset: number, whence: number): number {
  const r = rare().lseek(fd, BigInt(offset), whence);
  return r === -1n ? -errno() : Number(r);
}

// ---- memfds (vfs/tmpfs file data) -----------------------------------------------------------

const MFD_CLOEXEC = 1;
const memfdName = new TextEncoder().encode("sentry-tmpfs\0");

/** A close-on-exec memfd_create(2); returns fd or -errno. */
export function hostMemfd(): number {
  const fd = libc.memfd_create(memfdName, MFD_CLOEXEC);
  return fd === -1 ? -errno() : fd;
}

/** ftruncate(2); returns 0 or -errno. */
export function hostFtruncate(fd: number, length: number | bigint): number {
  for (;;) {
    if (libc.ftruncate(fd, BigInt(length)) === 0) return 0;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

/** fallocate(2); returns 0 or -errno. */
export function hostFallocate(fd: number, mode: number, offset: number, len: number): number {
  for (;;) {
    if (libc.fallocate(fd, mode, BigInt(offset), BigInt(len)) === 0) return 0;
    const e = errno();
    if (e !== EINTR) return -e;
  }
}

const sendfileOff = new BigInt64Array(1);
const sendfileOffBytes = new Uint8Array(sendfileOff.buffer);

/**
 * Copies len bytes of inFd from inOffset to outFd's file offset with sendfile(2), looping
 * until done or end of input; returns the bytes copied or -errno.
 */
export function hostSendfile(outFd: number, inFd: number, inOffset: number, len: number): number {
  let done = 0;
  while (done < len) {
    sendfileOff[0] = BigInt(inOffset + done);
    const r = libc.sendfile(outFd, inFd, sendfileOffBytes, BigInt(Math.min(len - done, 0x7ffff000)));
    if (r === -1n) {
      const e = errno();
      if (e === EINTR) continue;
      return -e;
    }
    if (r === 0n) break;
    done += Number(r);
  }
  return done;
}

export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

const pollBuf = new Uint8Array(8);
const pollView = new DataView(pollBuf.buffer);

/**
 * poll(2) of one descriptor; returns revents (0 on timeout) or -errno. Retried on EINTR, also
 * with a zero timeout: Linux's do_poll reports a pending signal as EINTR when nothing is ready,
 * and callers take a negative result as "not ready" without arming a wait (HostFile.readiness)
 * or as "ready" and read (HostFile.read), which would then block the JavaScript thread.
 *
 * A timed poll is retried for what is left of its timeout, never the whole of it again: the
 * wake alarm (armWakeAlarm) repeats every 2 ms or more while a wait needs it, and a 20 ms poll
 * restarted in full after each alarm never timed out, so its caller (a descriptor fetch that
 * also watches for the stub's stop, PtracePlatform's #runStub) spun forever while the stub sat
 * in a signal stop: a sandbox under --cpus hung that way.
 */
export function hostPoll(fd: number, events: number, timeoutMs: number): number {
  pollView.setInt32(0, fd, true);
  pollView.setInt16(4, events, true);
  pollView.setInt16(6, 0, true);
  let r: number;
  if (timeoutMs <= 0) {
    r = retryInt(() => rare().poll(pollBuf, 1n, timeoutMs));
  } else {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = Math.max(0, Math.ceil(deadline - performance.now()));
      r = rare().poll(pollBuf, 1n, left);
      if (r !== -1) break;
      const e = errno();
      if (e !== EINTR) return -e;
      if (left === 0) return 0;
    }
  }
  return r <= 0 ? r : pollView.getUint16(6, true);
}

/**
 * Waits on a thread of Deno's pool until `fd` reports one of `events` or `cancelFd` (an eventfd)
 * becomes readable. Resolves with fd's revents (0 when cancelled). errno is not readable from
 * here (it lives on the pool thread), so a failing poll resolves like an event: callers re-poll.
 */
export async function hostPollAsync(fd: number, events: number, cancelFd: number): Promise<number> {
  const buf = new Uint8Array(16);
  const v = new DataView(buf.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, events, true);
  v.setInt32(8, cancelFd, true);
  v.setInt16(12, POLLIN, true);
  // With no timeout poll returns -1 only when a signal interrupted it (a bad descriptor is
  // POLLNVAL, not an error): the signal that has every thread drop capabilities
  // (onEveryThread) reaches the pool thread this runs on. Asked again, as the caller expects.
  while (await libc.poll_async(buf, 2n, -1) === -1 && v.getUint16(6, true) === 0 && v.getUint16(14, true) === 0);
  return v.getUint16(6, true);
}

const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

/** A non-blocking, close-on-exec eventfd(2); returns fd or -errno. */
export function hostEventfd(): number {
  const fd = rare().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return fd === -1 ? -errno() : fd;
}

/** Fills dst from the host's getrandom(2). */
export function hostRandom(dst: Uint8Array): void {
  let off = 0;
  while (off < dst.length) {
    const part = dst.subarray(off);
    const r = rare().getrandom(part, BigInt(part.length), 0);
    if (r === -1n) {
      const e = errno();
      if (e === EINTR) continue;
      throw new HostError("getrandom", e);
    }
    off += Number(r);
  }
}

const SYS_pidfd_open = 434;

/** pidfd_open(2) for a host pid; returns fd or -errno. */
export function pidfdOpen(pid: number): number {
  const r = rare().syscall3(BigInt(SYS_pidfd_open), BigInt(pid), 0n, 0n);
  return r === -1n ? -errno() : Number(r);
}

const SYS_pidfd_getfd = 438;

/** pidfd_getfd(2): a copy (close-on-exec) of descriptor `fd` of the process of `pidfd`, or -errno. */
export function pidfdGetfd(pidfd: number, fd: number): number {
  const r = rare().syscall3(BigInt(SYS_pidfd_getfd), BigInt(pidfd), BigInt(fd), 0n);
  return r === -1n ? -errno() : Number(r);
}

/**
 * ioctl(2) on a seccomp listener, retried on EINTR: RECV and SEND do not sleep once a
 * notification is pending, and the host withdraws an interrupted ADDFD that the target did not
 * take (not one with SECCOMP_ADDFD_FLAG_SEND, which stays answered). Returns the ioctl's result
 * (ADDFD: the descriptor's number in the target) or -errno.
 */
export function seccompIoctl(fd: number, req: number, buf: Uint8Array): number {
  return retryInt(() => rare().ioctl(fd, BigInt(req), buf));
}

const SYS_seccomp = 317;
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_TSYNC = 1;

/**
 * Sets no_new_privs and installs the seccomp filter `prog` (struct sock_filter bytes) on every
 * thread of this process (TSYNC, which gives them all no_new_privs too). Returns 0, -errno, or
 * the id of a thread that could not take it.
 */
export function seccompAllThreads(prog: Uint8Array): number {
  if (rare().prctl(38, 1n, 0n, 0n, 0n) === -1) return -errno(); // PR_SET_NO_NEW_PRIVS
  const fprog = new Uint8Array(16);
  const v = new DataView(fprog.buffer);
  v.setUint16(0, prog.length / 8, true);
  v.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(prog as Uint8Array<ArrayBuffer>))), true);
  const addr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(fprog)));
  const r = rare().syscall3(BigInt(SYS_seccomp), BigInt(SECCOMP_SET_MODE_FILTER), BigInt(SECCOMP_FILTER_FLAG_TSYNC), addr);
  return r === -1n ? -errno() : Number(r);
}

/**
 * Reserves [addr, addr + len) of the sentry's own address space (PROT_NONE, MAP_FIXED_NOREPLACE):
 * nothing of the sentry's gets mapped there. Returns false when something already is.
 */
export function reserveRange(addr: number, len: number): boolean {
  const PROT_NONE = 0, MAP_PRIVATE_ANON_NORESERVE = 0x22 | 0x4000, MAP_FIXED_NOREPLACE = 0x100000;
  const p = libc.mmap(Deno.UnsafePointer.create(BigInt(addr)), BigInt(len), PROT_NONE,
    MAP_PRIVATE_ANON_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0n);
  const at = p === null ? 0n : Deno.UnsafePointer.value(p) as bigint;
  if (at === BigInt(addr)) return true;
  // A kernel before 4.17 ignores MAP_FIXED_NOREPLACE and may place it elsewhere: give it back.
  if (at !== 0xffffffffffffffffn && at !== 0n) libc.munmap(p, BigInt(len));
  return false;
}

// ---- a syscall list on every thread (the sentry's confinement) ------------------------------
//
// Capabilities, namespaces and the bounding set belong to each thread, not to the process, and
// Deno's threads (tokio's workers, V8's) exist before any JavaScript runs: what the JavaScript
// thread drops alone, the others keep. So, as libcap's psx does, a signal makes every thread run
// the same list of system calls itself, in a handler of a few instructions (no libc, nothing
// but raw syscalls: async-signal-safe anywhere). Machine code, assembled with GNU as (intel
// syntax) and pasted: rbx = the table, r12 = the count; each entry is nr, arg0..arg5; an error
// result is kept at data+8; at the end data+0 is incremented (lock inc).
const EVERY_THREAD_CODE = [
  0x53, 0x41, 0x54, //                               push rbx; push r12
  0x48, 0x8d, 0x1d, 0xf6, 0x0f, 0x00, 0x00, //       lea rbx, [rip + data]
  0x4c, 0x8b, 0x63, 0x10, //                         mov r12, [rbx + 16]       count
  0x48, 0x8d, 0x5b, 0x18, //                         lea rbx, [rbx + 24]       first entry
  0x4d, 0x85, 0xe4, 0x74, 0x35, //                   1: test r12, r12; jz 3f
  0x48, 0x8b, 0x03, 0x48, 0x8b, 0x7b, 0x08, //       mov rax, [rbx]; mov rdi, [rbx+8]
  0x48, 0x8b, 0x73, 0x10, 0x48, 0x8b, 0x53, 0x18, // mov rsi, [rbx+16]; mov rdx, [rbx+24]
  0x4c, 0x8b, 0x53, 0x20, 0x4c, 0x8b, 0x43, 0x28, // mov r10, [rbx+32]; mov r8, [rbx+40]
  0x4c, 0x8b, 0x4b, 0x30, 0x0f, 0x05, //             mov r9, [rbx+48]; syscall
  0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x72, 0x07, // cmp rax, -4095; jb 2f
  0x48, 0x89, 0x05, 0xc5, 0x0f, 0x00, 0x00, //       mov [rip + data + 8], rax
  0x48, 0x83, 0xc3, 0x38, 0x49, 0xff, 0xcc, //       2: add rbx, 56; dec r12
  0xeb, 0xc6, //                                     jmp 1b
  0xf0, 0x48, 0xff, 0x05, 0xac, 0x0f, 0x00, 0x00, // 3: lock inc qword [rip + data]
  0x41, 0x5c, 0x5b, 0xc3, //                         pop r12; pop rbx; ret
];
/** The signal that runs the list (SIGRTMIN+11 in kernel numbering; nobody else uses it). */
const EVERY_THREAD_SIGNAL = 45;
const SYS_tgkill = 234;

/** What {@linkcode onEveryThread} did. */
export interface EveryThreadResult {
  /** Threads that ran the list (the calling one among them). */
  ran: number;
  /** Threads signalled that neither ran it nor exited within the time allowed. */
  missing: number;
  /** An error result (-errno) one of the calls had on some thread, or 0. */
  error: number;
}

/**
 * Runs `calls` (system call number and up to six integer arguments; pointers are the caller's
 * to keep alive) on every thread of this process, the calling one included, each thread
 * making the calls itself. Threads started meanwhile are caught by listing /proc/self/task
 * again until no new one appears. Waits at most `timeoutMs` for the others.
 */
export function onEveryThread(calls: { nr: number; args: number[] }[], timeoutMs = 2000): EveryThreadResult {
  const PROT_RW = 3, PROT_RX = 5, MAP_PRIVATE_ANON = 0x22;
  const size = 0x2000;
  const page = libc.mmap(null, BigInt(size), PROT_RW, MAP_PRIVATE_ANON, -1, 0n);
  if (page === null || Deno.UnsafePointer.value(page) === 0xffffffffffffffffn) throw new HostError("mmap", errno());
  const mem = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(page, size));
  mem.set(EVERY_THREAD_CODE, 0);
  const data = new DataView(mem.buffer, 0x1000);
  if (24 + calls.length * 56 > 0x1000) throw new Error("onEveryThread: too many calls");
  data.setBigUint64(16, BigInt(calls.length), true);
  calls.forEach((c, i) => {
    data.setBigInt64(24 + i * 56, BigInt(c.nr), true);
    for (let a = 0; a < 6; a++) data.setBigInt64(24 + i * 56 + 8 + 8 * a, BigInt(c.args[a] ?? 0), true);
  });
  if (libc.mprotect(page, 0x1000n, PROT_RX) === -1) throw new HostError("mprotect", errno());
  // struct sigaction (glibc): handler, sa_mask[128], sa_flags, pad, sa_restorer. SA_RESTART: a
  // thread interrupted in a host call goes on with it.
  const SA_RESTART = 0x10000000;
  const sa = new DataView(new ArrayBuffer(152));
  sa.setBigUint64(0, Deno.UnsafePointer.value(page) as bigint, true);
  sa.setInt32(136, SA_RESTART, true);
  if (rare().sigaction(EVERY_THREAD_SIGNAL, new Uint8Array(sa.buffer), null) === -1) throw new HostError("sigaction", errno());
  const tasks = () => new Set([...Deno.readDirSync("/proc/self/task")].map((e) => Number(e.name)));
  const pid = rare().getpid();
  const signalled = new Set<number>();
  let gone = 0;
  for (;;) {
    let fresh = 0;
    for (const tid of tasks()) {
      if (signalled.has(tid)) continue;
      signalled.add(tid);
      fresh++;
      // On the calling thread the handler runs before tgkill returns.
      if (rare().syscall3(BigInt(SYS_tgkill), BigInt(pid), BigInt(tid), BigInt(EVERY_THREAD_SIGNAL)) === -1n) gone++;
    }
    if (fresh === 0) break;
  }
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const deadline = performance.now() + timeoutMs;
  let ran = 0;
  for (;;) {
    ran = Number(data.getBigUint64(0, true));
    if (ran + gone >= signalled.size) break;
    if (performance.now() > deadline) {
      // Exited meanwhile, or never took the signal.
      const alive = tasks();
      const exited = [...signalled].filter((t) => !alive.has(t)).length;
      if (ran + exited >= signalled.size) break;
      const result = { ran, missing: signalled.size - ran - exited, error: Number(data.getBigInt64(8, true)) };
      // The handler stays (a late signal must still find it); the page stays mapped for it.
      return result;
    }
    Atomics.wait(nap, 0, 0, 0.05); // the others run meanwhile (on this CPU, if it is the only one free)
  }
  const error = Number(data.getBigInt64(8, true));
  const ign = new DataView(new ArrayBuffer(152));
  ign.setBigUint64(0, 1n, true); // SIG_IGN
  rare().sigaction(EVERY_THREAD_SIGNAL, new Uint8Array(ign.buffer), null);
  libc.munmap(page, BigInt(size));
  return { ran, missing: 0, error };
}

// ---- memory files (memfd_create for the sandbox's memfds) -----------------------------------

const sandboxMemfdName = new TextEncoder().encode("sentry-memfd\0");

/** memfd_create(2) on the host for a sandbox memfd, close-on-exec added; returns fd or -errno. */
export function hostMemfdCreate(flags: number): number {
  const fd = libc.memfd_create(sandboxMemfdName, (flags | MFD_CLOEXEC) >>> 0); // u32, even with bit 31 set
  return fd === -1 ? -errno() : fd;
}

// ---- clocks -------------------------------------------------------------------------------

const tsBuf = new BigInt64Array(2);
const tsBytes = new Uint8Array(tsBuf.buffer);

/** clock_gettime(2) of a host clock as [seconds, nanoseconds]. */
export function hostClock(clock: number): [number, number] {
  libc.clock_gettime(clock, tsBytes);
  return [Number(tsBuf[0]), Number(tsBuf[1])];
}

// ---- the wake-up alarm --------------------------------------------------------------------
//
// A synchronous waitpid on the JavaScript thread is the cheapest way to learn that a stub
// stopped (no event-loop hop), but it must not sleep past the kernel's next deadline. A one-shot
// POSIX timer sends WAKE_SIGNAL to this thread only; its handler is a single `ret` instruction
// and is installed without SA_RESTART, so the blocked waitpid returns EINTR at the deadline.
//
// The alarm stays armed across stops (re-arming costs a syscall), so it also fires while this
// thread is blocked in any other host call: every wrapper in this file whose call can sleep
// interruptibly (pipes, FIFOs, terminals, and any file call on FUSE or NFS) runs it again on
// EINTR, and so must any new one (retryInt/retryBig). The sentry's own writes through Deno
// (stderr, the debug log) go through kernel/write_all.ts for the same reason. Exceptions:
// waitpid (the alarm's purpose) and close (the descriptor is gone even on EINTR).

export const WAKE_SIGNAL = 44; // SIGRTMIN+10 in kernel numbering; neither glibc nor Deno uses it.
const SIGEV_THREAD_ID = 4;
const CLOCK_MONOTONIC = 1;
let wakeTimer: Deno.PointerValue = null;
const itimerspec = new BigInt64Array(4);
const itimerspecBytes = new Uint8Array(itimerspec.buffer);

function installWakeAlarm(): void {
  const PROT_RWX = 7, PROT_RX = 5, MAP_PRIVATE_ANON = 0x22;
  const page = libc.mmap(null, 4096n, PROT_RWX, MAP_PRIVATE_ANON, -1, 0n);
  if (page === null || Deno.UnsafePointer.value(page) === 0xffffffffffffffffn) {
    throw new HostError("mmap", errno());
  }
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(page, 1))[0] = 0xc3; // ret
  libc.mprotect(page, 4096n, PROT_RX);
  // struct sigaction (glibc): handler, sa_mask[128], sa_flags, pad, sa_restorer.
  const sa = new DataView(new ArrayBuffer(152));
  sa.setBigUint64(0, BigInt(Deno.UnsafePointer.value(page)), true);
  sa.setInt32(136, 0, true); // no SA_RESTART: waitpid must return EINTR.
  if (rare().sigaction(WAKE_SIGNAL, new Uint8Array(sa.buffer), null) === -1) {
    throw new HostError("sigaction", errno());
  }
  // struct sigevent: sigev_value(8), sigev_signo(4), sigev_notify(4), _tid(4), padding.
  const sev = new DataView(new ArrayBuffer(64));
  sev.setInt32(8, WAKE_SIGNAL, true);
  sev.setInt32(12, SIGEV_THREAD_ID, true);
  sev.setInt32(16, libc.gettid(), true);
  const timerId = new BigUint64Array(1);
  if (rare().timer_create(CLOCK_MONOTONIC, new Uint8Array(sev.buffer), new Uint8Array(timerId.buffer)) === -1) {
    throw new HostError("timer_create", errno());
  }
  wakeTimer = Deno.UnsafePointer.create(timerId[0]!);
}

const REPEAT_MIN_NS = 2_000_000;

/**
 * Arms (ns > 0) or disarms (ns = 0) the wake-up alarm of the JavaScript thread: first in ns,
 * then again every max(ns, REPEAT_MIN_NS) until re-armed or disarmed.
 *
 * Why it repeats: the check "is the alarm still ahead?" and the entry into waitpid are two
 * steps, and a thread preempted between them (a loaded host) can see a one-shot alarm fire
 * before it blocks. The signal is then spent, and waitpid would block until the next stop,
 * which never comes while the application spins without a system call: a hang of the whole
 * loop (no host signal forwarded, no timer fired). A repeating alarm bounds that to one more
 * period. Disarm it when no wait needs it (PtracePlatform.idle), or it wakes an idle sentry.
 */
export function armWakeAlarm(ns: number): void {
  if (wakeTimer === null) installWakeAlarm();
  // The period is never shorter than REPEAT_MIN_NS: a microsecond deadline repeated every
  // microsecond is a signal storm in which waitpid never gets to block (a livelock seen with
  // CPU-time timers). A missed first alarm then costs at most one such period.
  const period = ns === 0 ? 0 : Math.max(ns, REPEAT_MIN_NS);
  itimerspec[0] = BigInt(Math.floor(period / 1e9)); // it_interval
  itimerspec[1] = BigInt(Math.floor(period % 1e9));
  itimerspec[2] = BigInt(Math.floor(ns / 1e9)); // it_value
  itimerspec[3] = BigInt(Math.floor(ns % 1e9));
  libc.timer_settime(wakeTimer, 0, itimerspecBytes, null);
}

// ---- host files, writable (vfs/hostfs in writable mode) ----------------------------------------
//
// Like the *at calls above: dirfd is a descriptor the sentry holds and each name is a single
// component; none of these follows a final symlink (fchmodat with AT_SYMLINK_NOFOLLOW is done
// by glibc on an O_PATH|O_NOFOLLOW descriptor, refusing symlinks).

const pathScratch2 = new Uint8Array(4096 + 1);
const pathRoom2 = pathScratch2.subarray(0, pathScratch2.length - 1);

/** Like scratchCstr, into the second scratch buffer (the other name of a two-name call). */
function scratchCstr2(name: string): Uint8Array | null {
  const n = encodePathInto(name, pathRoom2);
  if (n < 0) return null;
  pathScratch2[n] = 0;
  return pathScratch2;
}

/** mkdirat(2); returns 0 or -errno. */
export function hostMkdirat(dirfd: number, name: string, mode: number): number {
  const p = scratchCstr(name);
  if (p === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => rare().mkdirat(dirfd, p, mode));
}

/** mknodat(2); returns 0 or -errno. */
export function hostMknodat(dirfd: number, name: string, mode: number, dev: number): number {
  const p = scratchCstr(name);
  if (p === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => rare().mknodat(dirfd, p, mode, BigInt(dev)));
}

export const AT_REMOVEDIR = 0x200;

/** unlinkat(2) (flags: 0 or AT_REMOVEDIR); returns 0 or -errno. */
export function hostUnlinkat(dirfd: number, name: string, flags: number): number {
  const p = scratchCstr(name);
  if (p === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => rare().unlinkat(dirfd, p, flags));
}

/** renameat2(2); returns 0 or -errno. */
export function hostRenameat2(olddirfd: number, oldName: string, newdirfd: number, newName: string, flags: number): number {
  const a = scratchCstr(oldName), b = scratchCstr2(newName);
  if (a === null || b === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => rare().renameat2(olddirfd, a, newdirfd, b, flags));
}

/** symlinkat(2): name (one component) in dirfd, pointing at target (stored, never followed here). */
export function hostSymlinkat(target: string, dirfd: number, name: string): number {
  const t = scratchCstr2(target), p = scratchCstr(name);
  if (t === null || p === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => rare().symlinkat(t, dirfd, p));
}

/** linkat(2) without AT_SYMLINK_FOLLOW; returns 0 or -errno. */
export function hostLinkat(olddirfd: number, oldName: string, newdirfd: number, newName: string): number {
  const a = scratchCstr(oldName), b = scratchCstr2(newName);
  if (a === null || b === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => rare().linkat(olddirfd, a, newdirfd, b, 0));
}

/** fchownat(2) (flags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH); -1 leaves an id; returns 0 or -errno. */
export function hostFchownat(dirfd: number, name: string, uid: number, gid: number, flags: number): number {
  const p = scratchCstr(name);
  if (p === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => rare().fchownat(dirfd, p, uid >>> 0, gid >>> 0, flags));
}

/** fchmodat(2) (flags: AT_SYMLINK_NOFOLLOW: EOPNOTSUPP on a symlink); returns 0 or -errno. */
export function hostFchmodat(dirfd: number, name: string, mode: number, flags: number): number {
  const p = scratchCstr(name);
  if (p === null) return -ENAMETOOLONG_HOST;
  return retryInt(() => rare().fchmodat(dirfd, p, mode, flags));
}

/** fchmod(2); returns 0 or -errno. */
export function hostFchmod(fd: number, mode: number): number {
  return retryInt(() => rare().fchmod(fd, mode));
}

export const UTIME_NOW = 0x3fffffff;
export const UTIME_OMIT = 0x3ffffffe;
const utimesBuf = new BigInt64Array(4);
const utimesBytes = new Uint8Array(utimesBuf.buffer);

/**
 * utimensat(2) with times in nanoseconds since the epoch, or null to leave one (UTIME_OMIT);
 * flags: AT_SYMLINK_NOFOLLOW. Returns 0 or -errno.
 */
export function hostUtimensat(dirfd: number, name: string, atimeNs: bigint | null, mtimeNs: bigint | null, flags: number): number {
  const p = scratchCstr(name);
  if (p === null) return -ENAMETOOLONG_HOST;
  const set = (i: number, t: bigint | null) => {
    if (t === null) {
      utimesBuf[i] = 0n;
      utimesBuf[i + 1] = BigInt(UTIME_OMIT);
    } else {
      let s = t / 1_000_000_000n, ns = t % 1_000_000_000n;
      if (ns < 0n) (s -= 1n, ns += 1_000_000_000n);
      utimesBuf[i] = s;
      utimesBuf[i + 1] = ns;
    }
  };
  set(0, atimeNs);
  set(2, mtimeNs);
  return retryInt(() => rare().utimensat(dirfd, p, utimesBytes, flags));
}

/** fsync(2); returns 0 or -errno. */
export function hostFsync(fd: number): number {
  return retryInt(() => rare().fsync(fd));
}

// ---- read-only file mappings (vfs/hostfs: reads copied to the application in one step) --------

/** A read-only shared mapping of a host file, seen as bytes; see {@linkcode hostMapFile}. */
export interface HostFileMapping {
  /** @nosave */
  readonly ptr: Deno.PointerObject;
  /** The mapped bytes. Must not be touched after {@linkcode hostUnmapFile}. */
  readonly bytes: Uint8Array;
}

/**
 * mmap(2) of the first len bytes of fd, PROT_READ and MAP_SHARED, or null if the host refuses.
 * A page of the file that stops existing (the file shrank on the host) makes process_vm_writev
 * from it come up short instead of raising SIGBUS: the kernel's user copies fault softly.
 */
export function hostMapFile(fd: number, len: number): HostFileMapping | null {
  const PROT_READ = 1, MAP_SHARED = 1;
  if (len <= 0) return null;
  const p = libc.mmap(null, BigInt(len), PROT_READ, MAP_SHARED, fd, 0n);
  if (p === null || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) return null;
  return { ptr: p, bytes: new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, len)) };
}

/** munmap(2) of a mapping made by {@linkcode hostMapFile}. */
export function hostUnmapFile(m: HostFileMapping): void {
  libc.munmap(m.ptr, BigInt(m.bytes.length));
}

// ---- the memory file (platform/ptrace/memory_file.ts) ---------------------------------------

const memoryFileName = new TextEncoder().encode("sentry-memory\0");
const MFD_EXEC = 0x10;

/**
 * A whole-file shared mapping of the memory file. Deliberately not an ArrayBuffer: V8 counts an
 * external buffer's length as memory pressure, and a 64 GiB one made it collect garbage all the
 * time (17% of the sentry's time on a TCP round trip benchmark); copies are libc memcpy calls
 * on raw addresses instead ({@linkcode copyToRaw}, {@linkcode copyFromRaw}).
 */
export interface MemoryFileMapping {
  readonly fd: number;
  /** @nosave */
  readonly ptr: Deno.PointerObject;
  /** The address of the mapping (below 2^53: a number). */
  readonly base: number;
  readonly size: number;
}

/**
 * Creates the memory file: a close-on-exec memfd of `size` bytes (sparse: ftruncate allocates
 * nothing), mapped whole into the sentry, shared and without reserving swap. Executable
 * mappings of it must be allowed (MFD_EXEC where vm.memfd_noexec asks for it). Returns null if
 * the host refuses any step.
 */
export function hostMemoryFile(size: number): MemoryFileMapping | null {
  let noexec = 0;
  try {
    noexec = Number(Deno.readTextFileSync("/proc/sys/vm/memfd_noexec").trim()) || 0;
  } catch { /* an older kernel: memfds are executable */ }
  const fd = libc.memfd_create(memoryFileName, MFD_CLOEXEC | (noexec !== 0 ? MFD_EXEC : 0));
  if (fd === -1) return null;
  const PROT_RW = 3, MAP_SHARED = 1, MAP_NORESERVE = 0x4000;
  if (hostFtruncate(fd, size) !== 0) {
    libc.close(fd);
    return null;
  }
  const p = libc.mmap(null, BigInt(size), PROT_RW, MAP_SHARED | MAP_NORESERVE, fd, 0n);
  if (p === null || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) {
    libc.close(fd);
    return null;
  }
  return { fd, ptr: p, base: Number(Deno.UnsafePointer.value(p)), size };
}

/** Unmaps and closes the memory file; its bytes must not be touched after. */
export function hostCloseMemoryFile(m: MemoryFileMapping): void {
  libc.munmap(m.ptr, BigInt(m.size));
  libc.close(m.fd);
}

/**
 * A 64-bit FFI argument passed as a number: Deno accepts numbers for u64/usize at run time (its
 * types ask for bigint), and a BigInt per copy would be an allocation on the hottest path.
 */
function u64(n: number): bigint {
  return n as unknown as bigint;
}

/** Copies src to the sentry's own memory at raw address `to` (a mapping it made). */
export function copyToRaw(to: number, src: Uint8Array): void {
  if (src.length > 0) libc.memcpy_to_raw(u64(to), src as Uint8Array<ArrayBuffer>, u64(src.length));
}

/**
 * Atomically (lock cmpxchg) replaces the 32-bit word at raw address `at` (4-aligned, in a mapping
 * the sentry made) with `replacement` if it holds `expected`; returns the word it held. A
 * 4-byte view is made per call: V8 performs Atomics on a non-shared buffer with the same atomic
 * instructions, and so small a buffer costs no memory pressure.
 */
export function compareExchangeRaw32(at: number, expected: number, replacement: number): number {
  const view = new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(BigInt(at))!, 4));
  return Atomics.compareExchange(view, 0, expected >>> 0, replacement >>> 0);
}

/** Copies dst.length bytes of the sentry's own memory at raw address `from` into dst. */
export function copyFromRaw(dst: Uint8Array, from: number): void {
  if (dst.length > 0) libc.memcpy_from_raw(dst as Uint8Array<ArrayBuffer>, u64(from), u64(dst.length));
}

/** memmove(3) within the sentry's own memory (raw addresses of a mapping it made). */
export function moveRaw(to: number, from: number, len: number): void {
  if (len > 0) libc.memmove_raw(u64(to), u64(from), u64(len));
}

/** process_vm_readv of len bytes at remote addr into the sentry's memory at raw address `to`. */
export function vmReadToRaw(pid: number, addr: number, to: number, len: number): number {
  return len === 0 ? 0 : vmTransfer(false, pid, to, addr, len);
}

const FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2;

/** Frees the pages of [off, off + len) of a memfd: every mapping of them reads zeros after. */
export function hostPunchHole(fd: number, off: number, len: number): number {
  return hostFallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
}

/** The 512-byte blocks a descriptor's file holds (fstat's st_blocks), or -errno. */
export function hostBlocks(fd: number): number {
  const st = new BigInt64Array(18);
  return libc.fstat(fd, new Uint8Array(st.buffer)) === -1 ? -errno() : Number(st[8]);
}

// ---- AF_UNIX stream sockets with descriptor passing (the control socket) ------------------

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const SO_PEERCRED = 17;
const MSG_NOSIGNAL = 0x4000;
const MSG_CTRUNC = 0x8;
const MSG_CMSG_CLOEXEC = 0x40000000;
/** sizeof(struct sockaddr_un) and of its sun_path. */
const SOCKADDR_UN_SIZE = 110;
const SUN_PATH_MAX = 108;
/** At most this many descriptors travel with one message (stdin, stdout, stderr). */
export const MAX_PASSED_FDS = 3;

/** A sockaddr_un for path, or null when path does not fit sun_path with its NUL. */
function sockaddrUn(path: string): Uint8Array | null {
  const p = new TextEncoder().encode(path);
  if (p.length === 0 || p.length >= SUN_PATH_MAX) return null;
  const a = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(a.buffer).setUint16(0, AF_UNIX, true);
  a.set(p, 2);
  return a;
}

/** A new non-blocking, close-on-exec AF_UNIX stream socket; fd or -errno. */
function unixSocket(): number {
  const fd = rare().socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd === -1 ? -errno() : fd;
}

const ENAMETOOLONG = 36;

/**
 * A listening AF_UNIX stream socket bound at path (which must not exist), non-blocking and
 * close-on-exec; fd or -errno (ENAMETOOLONG when path does not fit a sockaddr_un).
 */
export function hostUnixListen(path: string, backlog: number): number {
  const addr = sockaddrUn(path);
  if (addr === null) return -ENAMETOOLONG;
  const fd = unixSocket();
  if (fd < 0) return fd;
  let r = rare().bind(fd, addr, SOCKADDR_UN_SIZE);
  if (r === 0) r = rare().listen(fd, backlog);
  if (r !== 0) {
    const e = errno();
    libc.close(fd);
    return -e;
  }
  return fd;
}

/**
 * Connects a new non-blocking, close-on-exec AF_UNIX stream socket to path; fd or -errno.
 * A connect to a listening AF_UNIX socket completes at once or fails (EAGAIN: its backlog is
 * full), it never stays in progress.
 */
export function hostUnixConnect(path: string): number {
  const addr = sockaddrUn(path);
  if (addr === null) return -ENAMETOOLONG;
  const fd = unixSocket();
  if (fd < 0) return fd;
  const r = retryInt(() => rare().connect(fd, addr, SOCKADDR_UN_SIZE));
  if (r < 0) {
    libc.close(fd);
    return r;
  }
  return fd;
}

/** accept4(2) of a pending connection, non-blocking and close-on-exec; fd or -errno (EAGAIN). */
export function hostAccept(fd: number): number {
  return retryInt(() => rare().accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

/** The peer's credentials of a connected AF_UNIX socket (SO_PEERCRED), or -errno. */
export function hostPeerCred(fd: number): { pid: number; uid: number; gid: number } | number {
  const cred = new Uint8Array(12);
  const len = new Uint32Array([12]);
  const r = rare().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, new Uint8Array(len.buffer));
  if (r !== 0) return -errno();
  const v = new DataView(cred.buffer);
  return { pid: v.getInt32(0, true), uid: v.getUint32(4, true), gid: v.getUint32(8, true) };
}

const CMSG_HDR = 16;
/** CMSG_SPACE(MAX_PASSED_FDS * 4). */
const CMSG_SPACE_FDS = CMSG_HDR + ((MAX_PASSED_FDS * 4 + 7) & ~7);

/** A msghdr (56 bytes) over one iovec of data and a control buffer, both kept alive by the caller. */
function msghdr(iov: Uint8Array, data: Uint8Array, control: Uint8Array | null): Uint8Array {
  const iv = new DataView(iov.buffer, iov.byteOffset, 16);
  iv.setBigUint64(0, addressOf(data), true);
  iv.setBigUint64(8, BigInt(data.length), true);
  const m = new Uint8Array(56);
  const mv = new DataView(m.buffer);
  mv.setBigUint64(16, addressOf(iov), true);
  mv.setBigUint64(24, 1n, true);
  if (control !== null) {
    mv.setBigUint64(32, addressOf(control), true);
    mv.setBigUint64(40, BigInt(control.length), true);
  }
  return m;
}

/**
 * sendmsg(2) of data with descriptors attached (SCM_RIGHTS; at most MAX_PASSED_FDS), without
 * SIGPIPE; bytes sent or -errno (EAGAIN on a full socket). The descriptors go with the first
 * byte sent.
 */
export function hostSendWithFds(fd: number, data: Uint8Array, fds: readonly number[]): number {
  if (data.length === 0) return 0;
  let control: Uint8Array | null = null;
  if (fds.length > 0) {
    if (fds.length > MAX_PASSED_FDS) return -22; // EINVAL
    control = new Uint8Array(CMSG_HDR + ((fds.length * 4 + 7) & ~7));
    const cv = new DataView(control.buffer);
    cv.setBigUint64(0, BigInt(CMSG_HDR + fds.length * 4), true);
    cv.setInt32(8, SOL_SOCKET, true);
    cv.setInt32(12, SCM_RIGHTS, true);
    fds.forEach((f, i) => cv.setInt32(CMSG_HDR + 4 * i, f, true));
  }
  const iov = new Uint8Array(16);
  const m = msghdr(iov, data, control);
  return retryBig(() => rare().sendmsg(fd, m, MSG_NOSIGNAL));
}

/**
 * recvmsg(2) into dst, collecting descriptors sent with the bytes (close-on-exec). Returns the
 * byte count (0 at end of stream) or -errno (EAGAIN when nothing is there), and the
 * descriptors received (a message that carried more than MAX_PASSED_FDS has its excess closed
 * by the host and sets `truncated`).
 */
export function hostRecvWithFds(fd: number, dst: Uint8Array): { n: number; fds: number[]; truncated: boolean } {
  const control = new Uint8Array(CMSG_SPACE_FDS);
  const iov = new Uint8Array(16);
  const m = msghdr(iov, dst, control);
  const n = retryBig(() => rare().recvmsg(fd, m, MSG_CMSG_CLOEXEC));
  const fds: number[] = [];
  if (n < 0) return { n, fds, truncated: false };
  const mv = new DataView(m.buffer);
  const controlLen = Number(mv.getBigUint64(40, true));
  const flags = mv.getInt32(48, true);
  const cv = new DataView(control.buffer);
  let off = 0;
  while (off + CMSG_HDR <= controlLen) {
    const len = Number(cv.getBigUint64(off, true));
    if (len < CMSG_HDR || off + len > controlLen) break;
    if (cv.getInt32(off + 8, true) === SOL_SOCKET && cv.getInt32(off + 12, true) === SCM_RIGHTS) {
      for (let p = off + CMSG_HDR; p + 4 <= off + len; p += 4) fds.push(cv.getInt32(p, true));
    }
    off += (len + 7) & ~7;
  }
  return { n, fds, truncated: (flags & MSG_CTRUNC) !== 0 };
}

/** setsid(2): the sentry leaves the caller's session and terminal (a detached sandbox). */
export function hostSetsid(): number {
  const r = rare().setsid();
  return r === -1 ? -errno() : r;
}

// ---- the vDSO (kernel/vdso) -----------------------------------------------------------------

/**
 * mmap(2) of the first len bytes of fd, MAP_SHARED and readable and writable, into the sentry
 * (the vDSO's parameters page, which the sentry writes and every stub maps read-only). Returns
 * the raw address, or null if the host refuses.
 */
export function hostMapSharedRW(fd: number, len: number): { ptr: Deno.PointerObject; base: number } | null {
  const PROT_RW = 3, MAP_SHARED = 1;
  const p = libc.mmap(null, BigInt(len), PROT_RW, MAP_SHARED, fd, 0n);
  if (p === null || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) return null;
  return { ptr: p, base: Number(Deno.UnsafePointer.value(p)) };
}

/** munmap(2) of a mapping made by {@linkcode hostMapSharedRW}. */
export function hostUnmapRaw(ptr: Deno.PointerObject, len: number): void {
  libc.munmap(ptr, BigInt(len));
}

const clockHelperSymbols = {
  sentry_clock_sample: { parameters: ["buffer"], result: "void" },
  sentry_vvar_write: { parameters: ["u64", "buffer"], result: "void" },
  sentry_vvar_clock: { parameters: ["u64", "i32"], result: "i64" },
} as const;

/** The functions of the sentry's clock helper (kernel/vdso/clock_helper.c). */
export interface ClockHelper {
  /** One calibration sample into out: TSC, host CLOCK_MONOTONIC, CLOCK_REALTIME, window. */
  sample(out: BigInt64Array): void;
  /** Publishes 7 parameters into the page at raw address addr under its sequence count. */
  write(addr: number, params: BigInt64Array): void;
  /** A clock read from the page at addr, as the vDSO reads it; null if the page cannot answer. */
  read(addr: number, clock: number): number | null;
}

type ClockHelperSymbols = Deno.DynamicLibrary<typeof clockHelperSymbols>["symbols"];
/** The loaded clock helper's functions (through pointers until bindFastCalls), and its path. */
let clockHelperFns: ClockHelperSymbols | null = null;
let clockHelperPath = "";

/**
 * Loads the clock helper the sentry built from kernel/vdso/clock_helper.c (kernel/vdso/build.ts)
 * from its own cache directory; null if it cannot be loaded. Every start loads it (the first
 * exec maps the vDSO): its functions are bound through pointers (libc's dlopen and dlsym) as the
 * hot libc functions are, since a Deno.dlopen compiles a trampoline per symbol (~1 ms of a
 * start's CPU here), and get Deno's fast calls with them (bindFastCalls).
 */
export function openClockHelper(path: string): ClockHelper | null {
  const RTLD_NOW = 2;
  const handle = rare().dlopen(new TextEncoder().encode(`${path}\0`), RTLD_NOW);
  if (handle === null) return null;
  const fns: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(clockHelperSymbols) as [string, Deno.ForeignFunction][]) {
    const at = dlsym(handle, new TextEncoder().encode(`${key}\0`));
    if (at === null) return null;
    const fn = new Deno.UnsafeFnPointer(at as Deno.PointerObject<Deno.UnsafeCallbackDefinition>, {
      parameters: def.parameters,
      result: def.result,
    });
    fns[key] = fn.call.bind(fn);
  }
  clockHelperFns = fns as ClockHelperSymbols;
  clockHelperPath = path;
  if (fastCalls) bindClockHelperFast();
  const INT64_MIN = -(2n ** 63n);
  return {
    sample: (out) => clockHelperFns!.sentry_clock_sample(new Uint8Array(out.buffer, out.byteOffset, 32)),
    write: (addr, p) => clockHelperFns!.sentry_vvar_write(u64(addr), new Uint8Array(p.buffer, p.byteOffset, 56)),
    read: (addr, clock) => {
      const r = clockHelperFns!.sentry_vvar_clock(u64(addr), clock);
      return r === INT64_MIN ? null : Number(r);
    },
  };
}

/** The clock helper's functions again, with Deno's fast calls (see bindFastCalls). */
function bindClockHelperFast(): void {
  if (clockHelperFns === null) return;
  try {
    clockHelperFns = Deno.dlopen(clockHelperPath, clockHelperSymbols).symbols;
  } catch { /* the pointers stay */ }
}

/** The raw address of a buffer's bytes (stable: array buffer stores do not move). */
export function bufferAddress(b: Uint8Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b as Uint8Array<ArrayBuffer>)));
}

// ---- host feature probes (sentry check) ---------------------------------------------------

/** syscall(2) with up to three integer arguments; returns the result or -errno. */
export function rawSyscall(nr: number, a = 0n, b = 0n, c = 0n): number {
  const r = rare().syscall3(BigInt(nr), a, b, c);
  return r === -1n ? -errno() : Number(r);
}

/** socket(2) on the host; fd or -errno. */
export function hostSocket(domain: number, type: number, protocol: number): number {
  const r = rare().socket(domain, type, protocol);
  return r === -1 ? -errno() : r;
}

/** bind(2) on the host; 0 or -errno. */
export function hostBind(fd: number, addr: Uint8Array): number {
  const r = rare().bind(fd, addr, addr.length);
  return r === -1 ? -errno() : 0;
}

/** setsockopt(2) on the host; 0 or -errno. */
export function hostSetsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
  const r = rare().setsockopt(fd, level, name, value, value.length);
  return r === -1 ? -errno() : 0;
}

/** send(2) on the host, retried on EINTR; bytes or -errno. */
export function hostSend(fd: number, src: Uint8Array, flags: number): number {
  return retryBig(() => rare().send(fd, src, BigInt(src.length), flags));
}

/** recv(2) on the host, retried on EINTR; bytes or -errno. */
export function hostRecv(fd: number, dst: Uint8Array, flags: number): number {
  return retryBig(() => rare().recv(fd, dst, BigInt(dst.length), flags));
}

/** prctl(2) with every argument given (some options want the unused ones 0); result or -errno. */
export function hostPrctl(option: number, a = 0n, b = 0n, c = 0n, d = 0n): number {
  const r = rare().prctl(option, a, b, c, d);
  return r === -1 ? -errno() : r;
}

/** PAGEMAP_SCAN: _IOWR('f', 16, struct pm_scan_arg) (Linux 6.7). */
const PAGEMAP_SCAN = 0xc0606610;
const PM_SCAN_ARG_SIZE = 96;
const PAGE_REGION_SIZE = 24;
const PAGE_IS_FILE = 1 << 2, PAGE_IS_PRESENT = 1 << 3, PAGE_IS_SWAPPED = 1 << 4;

/**
 * The ranges of [start, end) in process pid's address space whose pages are present or
 * swapped out (PAGEMAP_SCAN over /proc/PID/pagemap): the host's page tables, walked by the
 * host, holes skipped whole. null when the host cannot tell (an older kernel, no access): the
 * caller treats everything as possibly populated.
 *
 * notFile: only pages that are not a file's own (page cache) pages: in a private mapping of a
 * file, the process's copies (anonymous pages made by a write, swapped out or not); every other
 * page there reads as the file's bytes.
 */
export function hostPopulatedRanges(pid: number, start: number, end: number, notFile = false): Array<[number, number]> | null {
  const fd = hostOpen(`/proc/${pid}/pagemap`, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return null;
  try {
    const out: Array<[number, number]> = [];
    const vecLen = 256;
    const vec = new Uint8Array(vecLen * PAGE_REGION_SIZE);
    const arg = new Uint8Array(PM_SCAN_ARG_SIZE);
    const a = new DataView(arg.buffer), v = new DataView(vec.buffer);
    let at = start;
    while (at < end) {
      arg.fill(0);
      a.setBigUint64(0, BigInt(PM_SCAN_ARG_SIZE), true);
      a.setBigUint64(16, BigInt(at), true);
      a.setBigUint64(24, BigInt(end), true);
      a.setBigUint64(40, addressOf(vec), true);
      a.setBigUint64(48, BigInt(vecLen), true);
      if (notFile) {
        a.setBigUint64(64, BigInt(PAGE_IS_FILE), true); // category_inverted
        a.setBigUint64(72, BigInt(PAGE_IS_FILE), true); // category_mask: all of, after inversion
      }
      a.setBigUint64(80, BigInt(PAGE_IS_PRESENT | PAGE_IS_SWAPPED), true); // category_anyof_mask
      a.setBigUint64(88, BigInt(PAGE_IS_PRESENT | PAGE_IS_SWAPPED), true); // return_mask
      const n = retryInt(() => rare().ioctl(fd, BigInt(PAGEMAP_SCAN), arg));
      if (n < 0) return null;
      for (let i = 0; i < n; i++) {
        out.push([Number(v.getBigUint64(i * PAGE_REGION_SIZE, true)), Number(v.getBigUint64(i * PAGE_REGION_SIZE + 8, true))]);
      }
      const walkEnd = Number(a.getBigUint64(32, true));
      if (walkEnd <= at) return null; // no progress: do not loop
      at = walkEnd;
    }
    return out;
  } finally {
    hostClose(fd);
  }
}
