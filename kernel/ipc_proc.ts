/**
 * /proc/sysvipc/{shm,sem,msg}: the System V IPC objects of the reader's IPC namespace, one line
 * each in Linux's columns (ipc/shm.c, sem.c, msg.c sysvipc_*_proc_show), uids as the reader's
 * user namespace shows them and pids as `pidOf` numbers them. ipcs(1) reads these, and test
 * suites check them against IPC_INFO/SHM_INFO/MSG_INFO/SEM_INFO.
 *
 * @module
 */

import type { IpcNamespace, IpcPerm, ShmSegment } from "./ipc.ts";
import type { Kernel } from "./kernel.ts";
import type { UserNamespace } from "./user_namespace.ts";
import { PAGE_SIZE } from "../abi/linux/mm.ts";
import type { SysvipcKind } from "../vfs/procfs/source.ts";


const HEADERS: Record<SysvipcKind, string> = {
  shm: "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n",
  sem: "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n",
  msg: "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n",
};

/** How many mappings of segment `s` exist (shm_nattch), over every address space. */
export function shmAttachCount(k: Kernel, s: ShmSegment): number {
  let n = 0;
  const seen = new Set<unknown>();
  for (const tg of k.threadGroups.values()) {
    if (tg.zombie || seen.has(tg.mm)) continue;
    seen.add(tg.mm);
    for (const v of tg.mm.vmas) if (v.file === s.file) n++;
  }
  return n;
}

/** One file's text: the header, then a line per object in slot order. */
export function renderSysvipc(
  k: Kernel,
  kind: SysvipcKind,
  ns: IpcNamespace,
  users: UserNamespace,
  pidOf: (id: number) => number,
): string {
  const r = (v: number, w: number) => String(v).padStart(w);
  // key, id, then the mode in octal: "%10d %10d  %4o".
  const head = (id: number, p: IpcPerm) => `${r(p.key, 10)} ${r(id, 10)}  ${p.mode.toString(8).padStart(4)}`;
  const ids = (p: IpcPerm) =>
    `${r(users.uidOf(p.uid), 5)} ${r(users.gidOf(p.gid), 5)} ${r(users.uidOf(p.cuid), 5)} ${r(users.gidOf(p.cgid), 5)}`;
  let out = HEADERS[kind];
  if (kind === "shm") {
    for (const s of ns.shm.all()) {
      // Every page of a segment counts as resident (SHM_INFO's shm_rss says the same).
      const rss = Math.ceil(s.size / PAGE_SIZE) * PAGE_SIZE;
      out += `${head(s.id, s.perm)} ${r(s.size, 21)} ${r(pidOf(s.cpid), 5)} ${r(pidOf(s.lpid), 5)}  ${r(shmAttachCount(k, s), 5)} ` +
        `${ids(s.perm)} ${r(s.atimeSec, 10)} ${r(s.dtimeSec, 10)} ${r(s.ctimeSec, 10)} ${r(rss, 21)} ${r(0, 21)}\n`;
    }
  } else if (kind === "sem") {
    for (const s of ns.sem.all()) {
      out += `${head(s.id, s.perm)} ${r(s.sems.length, 10)} ${ids(s.perm)} ${r(s.otimeSec, 10)} ${r(s.ctimeSec, 10)}\n`;
    }
  } else {
    for (const q of ns.msg.all()) {
      out += `${head(q.id, q.perm)}  ${r(q.bytes, 10)} ${r(q.messages.length, 10)} ${r(pidOf(q.lspid), 5)} ${r(pidOf(q.lrpid), 5)} ` +
        `${ids(q.perm)} ${r(q.stimeSec, 10)} ${r(q.rtimeSec, 10)} ${r(q.ctimeSec, 10)}\n`;
    }
  }
  return out;
}
