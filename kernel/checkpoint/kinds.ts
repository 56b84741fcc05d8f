/**
 * The checkpoint's modules of the kinds of object an idle shell's image lacks (sockets, IPC,
 * terminals, memfds, event files, /proc files, keys, seccomp, file locks, unlinked files), as
 * one module that sandbox.ts imports only for an image that holds one of them, or whose state
 * zod parses (zod_tree.ts loadZod loads it first): their schemas and restore code were ~55 KB
 * of the ~110 KB the restore's chunk of the launcher's bundle loaded for every image.
 *
 * @module
 */

// Not used here: imported so that the launcher's bundle puts them in one chunk with files.ts,
// image.ts and the other modules sandbox.ts, save.ts and this module all load (a module is put
// in a chunk by the entry points that reach it). A restore of an idle shell then loads two
// files of the checkpoint's, sandbox.ts's and that chunk, where it loaded five: each cost ~1 ms
// of CPU whatever its size (its read, its code cache's look-up, its instantiation).
import "./timers.ts";
import "./task_policies.ts";
import "./cow.ts";

export { checkOrphansShape, OrphanMaker, orphanSchema, removedDir, tmpfsInodeOf } from "./orphans.ts";
export { checkLocksShape, fileLocksSchema, restoreLocks } from "./locks.ts";
export { attachRights, makeUnixSockets, unixSocketSchema } from "./unix_sockets.ts";
export { inetFileSchemas, makeInetFile, makeInetSockets, tcpSnapshotSchema, udpSnapshotSchema } from "./inet_sockets.ts";
export { checkMemfdShape, makeMemfd, memfdSchema, sealMemfd } from "./memfd.ts";
export { checkIoUringShape, ioUringFileSchema, makeIoUring } from "./io_uring.ts";
export { checkTtyShape, hangUpExecTerminal, makeTerminals, makeTtyFile, terminalSchema, ttyFileSchema } from "./ttys.ts";
export { anonFileSchemas, armAnonFile, linkAnonFile, loadAnonFileClasses, makeAnonFile } from "./anon_files.ts";
export { checkIpcShape, makeMqueues, mqueueFileSchema, mqueuesSchema, openMqueue, restoreSysvIpc, sysvIpcSchema } from "./ipc.ts";
export { makeProcFile, procFileHolders, procFileSchemas, reopenKernFiles } from "./proc_files.ts";
export { checkNetlinkShape, makeNetlinkFile, netlinkFileSchema } from "./netlink.ts";
export { checkKeyringsShape, keyringsSchema, restoreKeyrings } from "./keys.ts";
export { checkSeccompShape, makeSeccompStates, seccompFilterSchema, seccompStateSchema } from "./seccomp.ts";
