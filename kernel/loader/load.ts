/**
 * execve's loader: turns a path into a running image in a task's (fresh) address space.
 * The pure parts live beside it (elf.ts, stack.ts, shebang.ts); this file makes the mappings
 * and sets the registers, as Linux's load_elf_binary and gVisor's loader.Load.
 *
 * @module
 */

import { truncatePath } from "../../abi/path_bytes.ts";
import { ExecPermHold, fanPermActive, heldOpen } from "../fanotify_hooks.ts";
import { checkLandlock, FS_EXECUTE, FS_READ_FILE } from "../landlock.ts";
import { EACCES, EFAULT, EINVAL, EIO, ELIBBAD, ELOOP, ENOENT, ENOEXEC, errnoFromNumber, LinuxError } from "../errno.ts";
import type { Task } from "../task.ts";
import { RSEQ_ALIGN, RSEQ_FEATURE_SIZE } from "../rseq.ts";
import type { Location, PathContext, VirtualFilesystem } from "../../vfs/mod.ts";
import { MAY_EXEC, MAY_READ, mayAccess } from "../../vfs/mod.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { fsnotifyAccess } from "../../vfs/fsnotify.ts";
import type { MemoryManager, MmapOpts } from "../mm/mm.ts";
import type { Context } from "../../platform/mod.ts";
import {
  EHDR_SIZE, ET_DYN, ET_EXEC, loadExtent, loadPlan, parseElf, parseInterpPath, PT_INTERP, readElfHeader, type ElfInfo,
} from "./elf.ts";
import { buildInitialStack, execArgLimit, type ExecString } from "./stack.ts";
import { resolveExecutable as lookUpExecutable } from "./exec_path.ts";
import { BINPRM_BUF_SIZE, parseShebang, shebangArgv } from "./shebang.ts";
import { MMAP_BASE, PIE_BASE, STACK_TOP } from "../mm/mm.ts";
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, PAGE_SIZE, pageRoundUp, PROT_READ, PROT_WRITE,
} from "../../abi/linux/mm.ts";
import { S_IFMT, S_IFREG, S_ISGID, S_ISUID, S_IXGRP } from "../../abi/linux/file.ts";
import { Credentials } from "../creds.ts";
import * as AT from "../../abi/linux/aux.ts";
import { CAP_SETUID, CAP_SYS_PTRACE } from "../../abi/linux/capability.ts";
import { RLIMIT_STACK } from "../../abi/linux/limits.ts";

/**
 * Nested #! interpreters allowed: Linux's exec_binprm tries at most 6 binary handlers in a row
 * (depth 0 to 5), so five scripts may lead to the program and a sixth is ELOOP.
 */
const MAX_SHEBANG_DEPTH = 5;
/**
 * Finds the executable for a process started from outside the sandbox (init, `exec`), as
 * execvp(3) and runsc do (exec_path.ts), through the sandbox's filesystem (its mounts
 * included): a name with a slash is resolved against cwd and not checked (loading it gives the
 * errno); a bare name is searched in PATH from envp. Throws ENOENT, or EACCES when the name was
 * found only without execute permission.
 */
export function resolveExecutable(
  vfs: VirtualFilesystem,
  ctx: PathContext,
  cwd: string,
  exe: string,
  envp: readonly string[],
): string {
  const found = lookUpExecutable(exe, {
    envp,
    cwd,
    stat: (p) => {
      try {
        const st = vfs.statAt(ctx, ctx.root, p, { follow: true, emptyPath: false });
        return { isFile: (st.mode & S_IFMT) === S_IFREG, mode: st.mode & 0o7777 };
      } catch (e) {
        if (e instanceof LinuxError) return null;
        throw e;
      }
    },
  });
  if (found.ok) return found.path;
  throw found.reason === "notExecutable" ? EACCES : ENOENT;
}

export interface ExecArgs {
  /** The program's name (Linux's bprm->filename): AT_EXECFN, a script's argument, the comm. */
  path: string;
  /** As execve got them: bytes from application memory, or strings (init's). */
  argv: readonly ExecString[];
  envp: readonly ExecString[];
  /** execveat's way to the file; absent: `path` from the cwd (or root), symlinks followed. */
  open?: ExecOpen;
  /**
   * The name execve was given, kept when a #! script hands over to its interpreter (Linux's
   * bprm->filename): AT_EXECFN and the new comm are the script's, not the interpreter's.
   * Absent: `path`.
   */
  filename?: string;
  /**
   * The comm is the name of the file finally loaded (the interpreter's for a script), not the
   * filename's last part: an exec through a descriptor with an empty path (Linux 6.14's
   * comm_from_dentry; its filename is only /dev/fd/N).
   */
  commFromFile?: boolean;
}

/** How execveat(2) names the file (Linux's do_open_execat). */
export interface ExecOpen {
  /** The file itself (an empty path with AT_EMPTY_PATH), else `rel` from `dir`. */
  file?: FileDescription;
  dir?: Location;
  rel: string;
  /** AT_SYMLINK_NOFOLLOW: a symlink as the last component is ELOOP. */
  nofollow: boolean;
  /**
   * The descriptor was close-on-exec: the /dev/fd/N path a script's interpreter would open is
   * gone by then, so a script is ENOENT (BINPRM_FLAGS_PATH_INACCESSIBLE).
   */
  pathInaccessible: boolean;
}

/** The empty address space and stopped thread the program is loaded into. */
export interface LoadTarget {
  mm: MemoryManager;
  ctx: Context;
  /** Out: the credentials the new program runs with (set-id bits, capabilities). */
  creds?: Credentials;
  /** Out: the program's file is not readable by the caller (Linux's would_dump: not dumpable). */
  unreadable?: boolean;
}

/** Host auxv entries that describe the CPU, passed through so libc picks the same code paths. */
const hostAux = readHostAuxv();

function readHostAuxv(): Map<number, number> {
  const m = new Map<number, number>();
  try {
    const b = Deno.readFileSync("/proc/self/auxv");
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let o = 0; o + 16 <= b.length; o += 16) {
      const k = Number(v.getBigUint64(o, true));
      if (k === AT.AT_NULL) break;
      m.set(k, Number(v.getBigUint64(o + 8, true)));
    }
  } catch { /* no procfs: use defaults below */ }
  return m;
}

/** The loader's read (Linux's kernel_read: IN_ACCESS for what it read). */
function readAt(f: FileDescription, offset: number, len: number): Uint8Array {
  const buf = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const n = f.read(buf.subarray(done), offset + done);
    if (n <= 0) break;
    done += n;
  }
  if (done > 0) fsnotifyAccess(f);
  return buf.subarray(0, done);
}

function openExecutable(t: Task, path: string, how?: ExecOpen): FileDescription {
  const vfs = t.kernel.vfs;
  const ctx = { root: t.fs.root, creds: t.creds };
  // Opened for the loader's reads by execute permission alone, as Linux's open_exec: an
  // execute-only program (mode 0711) runs.
  const f = how?.file !== undefined
    ? how.file.incRef()
    : vfs.openExecutable(ctx, how?.dir ?? t.fs.cwd, how?.rel ?? path, !how?.nofollow).file;
  if (fanPermActive()) {
    // Held by fanotify permission events (FAN_OPEN_EXEC_PERM): execve waits and runs again.
    const held = heldOpen(f);
    if (held !== undefined) {
      const d = f.location()!.dentry;
      f.decRef();
      throw new ExecPermHold(held.req, d);
    }
  }
  try {
    if (f.location()?.mount.noexec) throw EACCES; // MS_NOEXEC
    const st = f.stat();
    if ((st.mode & S_IFMT) !== S_IFREG) throw EACCES;
    // Execute permission: the matching x bit, or CAP_DAC_OVERRIDE and any x bit.
    if (!mayAccess(t.creds, MAY_EXEC, st.mode, st.uid, st.gid, f.location()?.dentry.acl ?? null)) throw EACCES;
    const loc = f.location();
    // Landlock: open_exec's open reads and executes (FMODE_READ and __FMODE_EXEC).
    if (loc !== null) checkLandlock(t.landlock, loc, FS_READ_FILE | FS_EXECUTE);
    return f;
  } catch (e) {
    f.decRef();
    throw e;
  }
}

/**
 * Loads the program at args.path into t's address space (which must be empty) and sets t's
 * registers to start it. Handles #! scripts and PT_INTERP.
 */
export function loadExecutable(t: Task, args: ExecArgs, target: LoadTarget, depth = 0): void {
  const file = openExecutable(t, args.path, args.open);
  let handedOff = false;
  try {
    const prefix = readAt(file, 0, BINPRM_BUF_SIZE);
    const sb = parseShebang(prefix);
    if (sb !== null) {
      if (args.open?.pathInaccessible) throw ENOENT;
      if (depth >= MAX_SHEBANG_DEPTH) throw ELOOP;
      const argv = shebangArgv(sb, args.path, args.argv);
      file.decRef();
      handedOff = true;
      loadExecutable(t, {
        path: sb.interp, argv, envp: args.envp, filename: args.filename ?? args.path,
        commFromFile: args.commFromFile === true || (args.open?.file !== undefined),
      }, target, depth + 1);
      return;
    }
    loadElf(t, file, args, target);
  } finally {
    if (!handedOff) file.decRef();
  }
}

/** The auxv pairs as written on the new stack, through AT_NULL (Linux's mm->saved_auxv). */
function savedAuxv(mm: MemoryManager, addr: number): Uint8Array {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) {
    const pair = new Uint8Array(16);
    if (mm.read(addr + 16 * i, pair) !== 16) break;
    out.push(pair);
    if (new DataView(pair.buffer).getBigUint64(0, true) === 0n) break;
  }
  const b = new Uint8Array(16 * out.length);
  out.forEach((p, i) => b.set(p, 16 * i));
  return b;
}

/**
 * The interpreter's ELF image, with Linux's checks in load_elf_binary: a header cut short is EIO
 * (elf_read), no ELF magic, another machine or a program header table it cannot use ELIBBAD;
 * null for a type other than ET_EXEC or ET_DYN, which Linux finds only in load_elf_interp, past
 * the point of no return.
 */
function readInterpreter(file: FileDescription): ElfInfo | null {
  const head = readAt(file, 0, EHDR_SIZE);
  if (head.length < EHDR_SIZE) throw EIO;
  if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) throw ELIBBAD;
  const type = head[16]! | (head[17]! << 8);
  try {
    if (type !== ET_EXEC && type !== ET_DYN) {
      // The rest is still checked first (machine, program headers).
      readElf(file, true);
      return null;
    }
    return readElf(file);
  } catch (e) {
    if (e === ENOEXEC || e === EIO) throw ELIBBAD;
    throw e;
  }
}

/** The ELF image of file; anyType: its e_type is not looked at (read as ET_DYN). */
function readElf(file: FileDescription, anyType = false): ElfInfo {
  const head = readAt(file, 0, 4096);
  if (anyType && head.length >= EHDR_SIZE) head.set([ET_DYN, 0], 16);
  const hdr = readElfHeader(head);
  if (hdr.phdrsEnd <= head.length) return parseElf(head);
  // The table lies beyond the first page: read just it (e_phoff is untrusted; its size is
  // bounded by the header checks).
  return parseElf(head, readAt(file, hdr.phoff, hdr.phdrsSize));
}

/**
 * An error after Linux's point of no return in exec (while mapping segments): the old image is
 * gone, so the task dies with SIGSEGV rather than seeing an errno.
 */
export class ExecFatalError extends Error {
  constructor(readonly reason: unknown) {
    super(`exec failed after the point of no return: ${String(reason)}`);
    this.name = "ExecFatalError";
  }
}

interface Mapped {
  entry: number;
  phdr: number | null;
  bias: number;
  end: number;
}

/**
 * A write into the image once the mappings exist: the file's bytes of the page where a
 * segment's file bytes end, into that page mapped as anonymous memory (see mapImage); the rest
 * of the page stays zero, as Linux's padzero leaves it.
 */
interface PageFill {
  /** The page's address. */
  start: number;
  data: Uint8Array;
}

/**
 * Maps every PT_LOAD of info at `bias`, as Linux's elf_map/elf_load. The address space defers
 * the mappings (see loadElf), so page fills wait in `fills` until the mappings are flushed: a
 * fill runs first only if a later mapping covers its page (then that mapping must see the
 * filled page replaced, as Linux's order gives).
 */
function mapImage(tg: LoadTarget, file: FileDescription, info: ElfInfo, bias: number, fills: PageFill[]): Mapped {
  const plan = loadPlan(info, bias);
  const mm = tg.mm;
  const mapFixed = (start: number, length: number, o: Omit<MmapOpts, "addr" | "len">): void => {
    if (fills.some((f) => f.start < start + length && start < f.start + PAGE_SIZE)) flushAndFill(tg, fills);
    mm.mmap(tg.ctx, { addr: start, len: length, ...o });
  };
  for (const s of plan.steps) {
    if (s.file && s.zero) {
      // The page where the file's bytes end and the bss begins is private to the process from
      // the start (Linux's padzero writes it, so the host copies it at exec): make it anonymous
      // memory holding a copy of those bytes rather than a file mapping. Then a static buffer
      // starting there lies wholly in memory the sentry copies into with memcpy (docs/kernel.md,
      // "The memory file"); as a file mapping, every read(2) into it cost one more
      // process_vm_writev for its first page. loadPlan only zero-fills writable segments, so no
      // mprotect is needed after the fill.
      const last = s.zero.start - (s.zero.start % PAGE_SIZE);
      const lastOffset = s.file.fileOffset + (last - s.file.start);
      if (last > s.file.start) {
        mapFixed(s.file.start, last - s.file.start, {
          prot: s.prot, flags: MAP_PRIVATE | MAP_FIXED, file, offset: s.file.fileOffset,
        });
      }
      mapFixed(last, PAGE_SIZE, {
        prot: s.prot, flags: MAP_PRIVATE | MAP_FIXED, file, offset: lastOffset, callerFills: true,
      });
      fills.push({ start: last, data: readAt(file, lastOffset, s.zero.start - last) });
    } else if (s.file) {
      mapFixed(s.file.start, s.file.length, {
        prot: s.prot, flags: MAP_PRIVATE | MAP_FIXED, file, offset: s.file.fileOffset,
      });
    }
    if (s.anon) {
      mapFixed(s.anon.start, s.anon.length, {
        prot: s.anonProt, flags: MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, file: null, offset: 0,
      });
    }
  }
  return { entry: plan.entry, phdr: plan.phdr, bias, end: plan.end };
}

/**
 * Runs the deferred mappings and the page fills waiting for them; keeps deferring afterwards.
 * A host failure here is past exec's point of no return.
 */
function flushAndFill(tg: LoadTarget, fills: PageFill[]): void {
  const as = tg.mm.as;
  const r = as.flushMappings();
  if (r < 0) throw errnoFromNumber(-r);
  for (const f of fills.splice(0)) {
    if (as.forceWrite(f.start, f.data) !== f.data.length) throw EFAULT;
  }
  as.deferMappings(tg.ctx);
}

/**
 * Linux's bprm_fill_uid and the capability rules: a set-user-ID file runs with its owner as the
 * effective uid, a set-group-ID one (group execute set) with its group, unless the mount is
 * nosuid, the task has no_new_privs or its user namespace does not map the file's owner and
 * group. The interpreter's bits count for a script (the script is
 * not what runs).
 */
const READ_IMPLIES_EXEC = 0x0400000;
/** READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE | ADDR_COMPAT_LAYOUT | MMAP_PAGE_ZERO. */
const PER_CLEAR_ON_SETID = 0x0400000 | 0x0040000 | 0x0200000 | 0x0100000;

function execCreds(t: Task, file: FileDescription): { creds: Credentials; secure: boolean } {
  const st = file.stat();
  // LSM_UNSAFE_SHARE (check_unsafe_exec): a filesystem context shared with another process
  // (clone(CLONE_FS)) lets no set-id exec raise ids, unless the caller may set them anyway.
  const sharedFs = (st.mode & (S_ISUID | S_ISGID)) !== 0 && !t.creds.hasOwnCap(CAP_SETUID) &&
    [...t.kernel.tasks.values()].some((o) => o.fs === t.fs && o.tg !== t.tg && o.state !== "dead");
  // A file whose owner or group the task's user namespace does not map raises nothing.
  const ns = t.creds.userNs;
  const mapped = ns.fromKuid(st.uid) >= 0 && ns.fromKgid(st.gid) >= 0;
  const applies = !(file.location()?.mount.nosuid ?? false) && !t.noNewPrivs && !sharedFs && mapped;
  const uid = applies && (st.mode & S_ISUID) ? st.uid : null;
  const gid = applies && (st.mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP) ? st.gid : null;
  const exec = t.creds.afterExec(uid, gid);
  const l = t.ptrace;
  if (l === null || l.tracerCreds.capableIn(exec.creds.userNs, CAP_SYS_PTRACE)) return exec;
  return { creds: tracedExecCreds(t.creds, exec.creds), secure: exec.secure };
}

/**
 * LSM_UNSAFE_PTRACE (cap_bprm_creds_from_file): a traced task whose trace began without
 * CAP_SYS_PTRACE over the new credentials' namespace (ptracer_capable) gains nothing by a set-id
 * or privileged exec: the effective ids stay the real ones unless it may set ids anyway
 * (CAP_SETUID), and the permitted set is cut to what it had. AT_SECURE stays set, as Linux
 * decides it from the ids asked for.
 */
function tracedExecCreds(old: Credentials, n: Credentials): Credentials {
  const idChanged = n.euid !== old.euid || !old.inGroup(n.egid);
  const grew = (n.caps.permitted & ~n.caps.ambient) !== 0n;
  if (!idChanged && !grew) return n;
  const keepIds = old.hasOwnCap(CAP_SETUID);
  const euid = keepIds ? n.euid : n.uid, egid = keepIds ? n.egid : n.gid;
  const permitted = n.caps.permitted & old.caps.permitted;
  return new Credentials(
    n.uid, n.gid, euid, egid, euid, egid, euid, egid, n.groups,
    { ...n.caps, permitted, effective: n.caps.effective & permitted }, n.userNs,
  );
}

function loadElf(t: Task, file: FileDescription, args: ExecArgs, target: LoadTarget): void {
  const exec = execCreds(t, file);
  target.creds = exec.creds;
  const st = file.stat();
  if (!mayAccess(t.creds, MAY_READ, st.mode, st.uid, st.gid, file.location()?.dentry.acl ?? null)) target.unreadable = true;
  const info = readElf(file);
  let interpInfo: ElfInfo | null = null;
  let interpFile: FileDescription | null = null;
  try {
    const ip = info.phdrs.find((p) => p.type === PT_INTERP);
    if (ip) {
      const interpPath = parseInterpPath(readAt(file, ip.offset, ip.filesz), ip.filesz);
      interpFile = openExecutable(t, interpPath);
      interpInfo = readInterpreter(interpFile); // its own PT_INTERP is ignored, as Linux does
    }
    let main: Mapped;
    let interp: Mapped | null = null;
    const mm = target.mm;
    // The stack: RLIMIT_STACK bytes (capped) below STACK_TOP, like Linux's initial stack VMA.
    const stackLimit = Math.min(t.tg.limits.soft(RLIMIT_STACK), 64 << 20);
    const stackSize = pageRoundUp(Math.max(stackLimit, 128 << 10));
    // Every mapping of the new image (both ELF images, the stack) runs on the host in one batch:
    // one round trip into the fresh stub rather than three per file segment.
    const fills: PageFill[] = [];
    let vdsoBase = 0;
    mm.as.deferMappings(target.ctx);
    try {
      // An interpreter of another ELF type fails in Linux's load_elf_interp, past the point of no return.
      if (ip && interpInfo === null) throw EINVAL;
      const mainExtent = loadExtent(info);
      const mainBias = info.type === "dyn" ? PIE_BASE - mainExtent.start : 0;
      main = mapImage(target, file, info, mainBias, fills);
      if (interpInfo && interpFile) {
        const ext = loadExtent(interpInfo);
        const size = pageRoundUp(ext.end - ext.start);
        const base = interpInfo.type === "dyn" ? target.mm.findFree(size, MMAP_BASE) - ext.start : 0;
        interp = mapImage(target, interpFile, interpInfo, base, fills);
      }
      const vdso = t.kernel.vdso();
      if (vdso !== null) vdsoBase = vdso.mapInto(mm, target.ctx, t.timeNsForChildren);
      mm.mmap(target.ctx, {
        addr: STACK_TOP - stackSize, len: stackSize, prot: PROT_READ | PROT_WRITE,
        flags: MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN, file: null, offset: 0, name: "[stack]",
      });
      flushAndFill(target, fills);
    } catch (e) {
      if (e instanceof LinuxError) throw new ExecFatalError(e);
      throw e;
    } finally {
      mm.as.flushMappings();
    }
    mm.brkStart = mm.brk = pageRoundUp(main.end);
    mm.executable = args.path;
    mm.exe = file.location();
    if (mm.exe === null) mm.exeFile = file.incRef();
    mm.stackBottom = STACK_TOP - stackSize;

    const random = new Uint8Array(16);
    crypto.getRandomValues(random);
    const c = exec.creds;
    const auxv: [number, number][] = [
      [AT.AT_MINSIGSTKSZ, hostAux.get(AT.AT_MINSIGSTKSZ) ?? 2048],
      [AT.AT_HWCAP, hostAux.get(AT.AT_HWCAP) ?? 0x178bfbff],
      [AT.AT_PAGESZ, PAGE_SIZE],
      [AT.AT_CLKTCK, 100],
      [AT.AT_PHDR, main.phdr ?? 0],
      [AT.AT_PHENT, 56],
      [AT.AT_PHNUM, info.phnum],
      [AT.AT_BASE, interp ? interp.bias : 0],
      [AT.AT_FLAGS, 0],
      [AT.AT_ENTRY, main.entry],
      [AT.AT_UID, c.uid],
      [AT.AT_EUID, c.euid],
      [AT.AT_GID, c.gid],
      [AT.AT_EGID, c.egid],
      [AT.AT_SECURE, exec.secure ? 1 : 0],
      [AT.AT_HWCAP2, hostAux.get(AT.AT_HWCAP2) ?? 0],
      [AT.AT_RSEQ_FEATURE_SIZE, RSEQ_FEATURE_SIZE],
      [AT.AT_RSEQ_ALIGN, RSEQ_ALIGN],
    ];
    // Linux puts the vDSO's address first (ARCH_DLINFO) when there is one.
    if (vdsoBase !== 0) auxv.unshift([AT.AT_SYSINFO_EHDR, vdsoBase]);
    const stack = buildInitialStack({
      top: STACK_TOP,
      argv: args.argv,
      envp: args.envp,
      execfn: args.filename ?? args.path,
      platform: "x86_64",
      random,
      auxv,
      limit: execArgLimit(t.tg.limits.get(RLIMIT_STACK).cur),
    });
    if (stack.start < mm.stackBottom) throw new LinuxError(7, "E2BIG", "Argument list too long");
    if (mm.write(stack.start, stack.bytes) !== stack.bytes.length) throw new LinuxError(14, "EFAULT", "stack");
    mm.auxv = savedAuxv(mm, stack.auxvAddr);
    mm.argStart = stack.argStart;
    mm.argEnd = stack.argEnd;
    mm.envStart = stack.envStart;
    mm.envEnd = stack.envEnd;

    const r = target.ctx.regs;
    const cs = r.get("cs"), ss = r.get("ss");
    r.bytes.fill(0);
    r.set("cs", cs);
    r.set("ss", ss);
    r.set("eflags", 0x202);
    r.set("rip", interp ? interp.entry : main.entry);
    r.set("rsp", stack.sp);
    r.set("orig_rax", -1);
    target.ctx.markRegsDirty();
    const fromFile = args.commFromFile === true || args.open?.file !== undefined;
    const name = (fromFile ? file.location()?.dentry.name : undefined) ?? args.filename ?? args.path;
    t.name = truncatePath(name.slice(name.lastIndexOf("/") + 1), 15);
    // SET_PERSONALITY for a 64-bit ELF drops READ_IMPLIES_EXEC; a set-id exec drops
    // PER_CLEAR_ON_SETID (bprm->per_clear).
    t.personality &= ~(READ_IMPLIES_EXEC | (exec.secure ? PER_CLEAR_ON_SETID : 0));
  } finally {
    interpFile?.decRef();
  }
}
