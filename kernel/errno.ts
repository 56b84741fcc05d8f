/**
 * Linux errno values as singletons, so that callers compare by identity (as gVisor's linuxerr).
 * A syscall handler throws one of these; the dispatcher turns it into -errno for the
 * application. Any other exception escaping a handler is a sentry bug.
 *
 * Generated from the x86-64 Linux headers (asm-generic/errno-base.h, errno.h).
 *
 * @module
 */

/** An error the application sees as an errno value. */
export class LinuxError extends Error {
  constructor(readonly errno: number, readonly symbol: string, message: string) {
    super(message);
    this.name = "LinuxError";
  }
}

/** A broken invariant inside the sentry: never the application's fault. */
export class SentryBugError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SentryBugError";
  }
}

const byNumber: LinuxError[] = [];
function e(errno: number, symbol: string, message: string): LinuxError {
  // No stack trace: a singleton's would only name this module's top level, and capturing ~135
  // of them cost ~1.3 ms of every start.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const err = new LinuxError(errno, symbol, message);
    byNumber[errno] ??= err;
    return err;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export const EPERM = e(1, "EPERM", "Operation not permitted");
export const ENOENT = e(2, "ENOENT", "No such file or directory");
export const ESRCH = e(3, "ESRCH", "No such process");
export const EINTR = e(4, "EINTR", "Interrupted system call");
export const EIO = e(5, "EIO", "I/O error");
export const ENXIO = e(6, "ENXIO", "No such device or address");
export const E2BIG = e(7, "E2BIG", "Argument list too long");
export const ENOEXEC = e(8, "ENOEXEC", "Exec format error");
export const EBADF = e(9, "EBADF", "Bad file number");
export const ECHILD = e(10, "ECHILD", "No child processes");
export const EAGAIN = e(11, "EAGAIN", "Try again");
export const ENOMEM = e(12, "ENOMEM", "Out of memory");
export const EACCES = e(13, "EACCES", "Permission denied");
export const EFAULT = e(14, "EFAULT", "Bad address");
export const ENOTBLK = e(15, "ENOTBLK", "Block device required");
export const EBUSY = e(16, "EBUSY", "Device or resource busy");
export const EEXIST = e(17, "EEXIST", "File exists");
export const EXDEV = e(18, "EXDEV", "Cross-device link");
export const ENODEV = e(19, "ENODEV", "No such device");
export const ENOTDIR = e(20, "ENOTDIR", "Not a directory");
export const EISDIR = e(21, "EISDIR", "Is a directory");
export const EINVAL = e(22, "EINVAL", "Invalid argument");
export const ENFILE = e(23, "ENFILE", "File table overflow");
export const EMFILE = e(24, "EMFILE", "Too many open files");
export const ENOTTY = e(25, "ENOTTY", "Not a typewriter");
export const ETXTBSY = e(26, "ETXTBSY", "Text file busy");
export const EFBIG = e(27, "EFBIG", "File too large");
export const ENOSPC = e(28, "ENOSPC", "No space left on device");
export const ESPIPE = e(29, "ESPIPE", "Illegal seek");
export const EROFS = e(30, "EROFS", "Read-only file system");
export const EMLINK = e(31, "EMLINK", "Too many links");
export const EPIPE = e(32, "EPIPE", "Broken pipe");
export const EDOM = e(33, "EDOM", "Math argument out of domain of func");
export const ERANGE = e(34, "ERANGE", "Math result not representable");
export const EDEADLK = e(35, "EDEADLK", "Resource deadlock would occur");
export const ENAMETOOLONG = e(36, "ENAMETOOLONG", "File name too long");
export const ENOLCK = e(37, "ENOLCK", "No record locks available");
export const ENOSYS = e(38, "ENOSYS", "Invalid system call number");
export const ENOTEMPTY = e(39, "ENOTEMPTY", "Directory not empty");
export const ELOOP = e(40, "ELOOP", "Too many symbolic links encountered");
export const ENOMSG = e(42, "ENOMSG", "No message of desired type");
export const EIDRM = e(43, "EIDRM", "Identifier removed");
export const ECHRNG = e(44, "ECHRNG", "Channel number out of range");
export const EL2NSYNC = e(45, "EL2NSYNC", "Level 2 not synchronized");
export const EL3HLT = e(46, "EL3HLT", "Level 3 halted");
export const EL3RST = e(47, "EL3RST", "Level 3 reset");
export const ELNRNG = e(48, "ELNRNG", "Link number out of range");
export const EUNATCH = e(49, "EUNATCH", "Protocol driver not attached");
export const ENOCSI = e(50, "ENOCSI", "No CSI structure available");
export const EL2HLT = e(51, "EL2HLT", "Level 2 halted");
export const EBADE = e(52, "EBADE", "Invalid exchange");
export const EBADR = e(53, "EBADR", "Invalid request descriptor");
export const EXFULL = e(54, "EXFULL", "Exchange full");
export const ENOANO = e(55, "ENOANO", "No anode");
export const EBADRQC = e(56, "EBADRQC", "Invalid request code");
export const EBADSLT = e(57, "EBADSLT", "Invalid slot");
export const EBFONT = e(59, "EBFONT", "Bad font file format");
export const ENOSTR = e(60, "ENOSTR", "Device not a stream");
export const ENODATA = e(61, "ENODATA", "No data available");
export const ETIME = e(62, "ETIME", "Timer expired");
export const ENOSR = e(63, "ENOSR", "Out of streams resources");
export const ENONET = e(64, "ENONET", "Machine is not on the network");
export const ENOPKG = e(65, "ENOPKG", "Package not installed");
export const EREMOTE = e(66, "EREMOTE", "Object is remote");
export const ENOLINK = e(67, "ENOLINK", "Link has been severed");
export const EADV = e(68, "EADV", "Advertise error");
export const ESRMNT = e(69, "ESRMNT", "Srmount error");
export const ECOMM = e(70, "ECOMM", "Communication error on send");
export const EPROTO = e(71, "EPROTO", "Protocol error");
export const EMULTIHOP = e(72, "EMULTIHOP", "Multihop attempted");
export const EDOTDOT = e(73, "EDOTDOT", "RFS specific error");
export const EBADMSG = e(74, "EBADMSG", "Not a data message");
export const EOVERFLOW = e(75, "EOVERFLOW", "Value too large for defined data type");
export const ENOTUNIQ = e(76, "ENOTUNIQ", "Name not unique on network");
export const EBADFD = e(77, "EBADFD", "File descriptor in bad state");
export const EREMCHG = e(78, "EREMCHG", "Remote address changed");
export const ELIBACC = e(79, "ELIBACC", "Can not access a needed shared library");
export const ELIBBAD = e(80, "ELIBBAD", "Accessing a corrupted shared library");
export const ELIBSCN = e(81, "ELIBSCN", ".lib section in a.out corrupted");
export const ELIBMAX = e(82, "ELIBMAX", "Attempting to link in too many shared libraries");
export const ELIBEXEC = e(83, "ELIBEXEC", "Cannot exec a shared library directly");
export const EILSEQ = e(84, "EILSEQ", "Illegal byte sequence");
export const ERESTART = e(85, "ERESTART", "Interrupted system call should be restarted");
export const ESTRPIPE = e(86, "ESTRPIPE", "Streams pipe error");
export const EUSERS = e(87, "EUSERS", "Too many users");
export const ENOTSOCK = e(88, "ENOTSOCK", "Socket operation on non-socket");
export const EDESTADDRREQ = e(89, "EDESTADDRREQ", "Destination address required");
export const EMSGSIZE = e(90, "EMSGSIZE", "Message too long");
export const EPROTOTYPE = e(91, "EPROTOTYPE", "Protocol wrong type for socket");
export const ENOPROTOOPT = e(92, "ENOPROTOOPT", "Protocol not available");
export const EPROTONOSUPPORT = e(93, "EPROTONOSUPPORT", "Protocol not supported");
export const ESOCKTNOSUPPORT = e(94, "ESOCKTNOSUPPORT", "Socket type not supported");
export const EOPNOTSUPP = e(95, "EOPNOTSUPP", "Operation not supported on transport endpoint");
export const EPFNOSUPPORT = e(96, "EPFNOSUPPORT", "Protocol family not supported");
export const EAFNOSUPPORT = e(97, "EAFNOSUPPORT", "Address family not supported by protocol");
export const EADDRINUSE = e(98, "EADDRINUSE", "Address already in use");
export const EADDRNOTAVAIL = e(99, "EADDRNOTAVAIL", "Cannot assign requested address");
export const ENETDOWN = e(100, "ENETDOWN", "Network is down");
export const ENETUNREACH = e(101, "ENETUNREACH", "Network is unreachable");
export const ENETRESET = e(102, "ENETRESET", "Network dropped connection because of reset");
export const ECONNABORTED = e(103, "ECONNABORTED", "Software caused connection abort");
export const ECONNRESET = e(104, "ECONNRESET", "Connection reset by peer");
export const ENOBUFS = e(105, "ENOBUFS", "No buffer space available");
export const EISCONN = e(106, "EISCONN", "Transport endpoint is already connected");
export const ENOTCONN = e(107, "ENOTCONN", "Transport endpoint is not connected");
export const ESHUTDOWN = e(108, "ESHUTDOWN", "Cannot send after transport endpoint shutdown");
export const ETOOMANYREFS = e(109, "ETOOMANYREFS", "Too many references: cannot splice");
export const ETIMEDOUT = e(110, "ETIMEDOUT", "Connection timed out");
export const ECONNREFUSED = e(111, "ECONNREFUSED", "Connection refused");
export const EHOSTDOWN = e(112, "EHOSTDOWN", "Host is down");
export const EHOSTUNREACH = e(113, "EHOSTUNREACH", "No route to host");
export const EALREADY = e(114, "EALREADY", "Operation already in progress");
export const EINPROGRESS = e(115, "EINPROGRESS", "Operation now in progress");
export const ESTALE = e(116, "ESTALE", "Stale file handle");
export const EUCLEAN = e(117, "EUCLEAN", "Structure needs cleaning");
export const ENOTNAM = e(118, "ENOTNAM", "Not a XENIX named type file");
export const ENAVAIL = e(119, "ENAVAIL", "No XENIX semaphores available");
export const EISNAM = e(120, "EISNAM", "Is a named type file");
export const EREMOTEIO = e(121, "EREMOTEIO", "Remote I/O error");
export const EDQUOT = e(122, "EDQUOT", "Quota exceeded");
export const ENOMEDIUM = e(123, "ENOMEDIUM", "No medium found");
export const EMEDIUMTYPE = e(124, "EMEDIUMTYPE", "Wrong medium type");
export const ECANCELED = e(125, "ECANCELED", "Operation Canceled");
export const ENOKEY = e(126, "ENOKEY", "Required key not available");
export const EKEYEXPIRED = e(127, "EKEYEXPIRED", "Key has expired");
export const EKEYREVOKED = e(128, "EKEYREVOKED", "Key has been revoked");
export const EKEYREJECTED = e(129, "EKEYREJECTED", "Key was rejected by service");
export const EOWNERDEAD = e(130, "EOWNERDEAD", "Owner died");
export const ENOTRECOVERABLE = e(131, "ENOTRECOVERABLE", "State not recoverable");
export const ERFKILL = e(132, "ERFKILL", "Operation not possible due to RF-kill");
export const EHWPOISON = e(133, "EHWPOISON", "Memory page has hardware error");

/** The singleton for an errno number (for errors that come from the host, or from -errno). */
export function errnoFromNumber(n: number): LinuxError {
  return byNumber[n] ?? new LinuxError(n, `E${n}`, `errno ${n}`);
}

/** The name of an errno value, for strace output. */
export function errnoName(n: number): string {
  return byNumber[n]?.symbol ?? `E${n}`;
}

/** Internal: restart the syscall after a signal handler (SA_RESTART), like Linux's ERESTARTSYS. */
export const ERESTARTSYS = new LinuxError(512, "ERESTARTSYS", "restart syscall");
/** Internal: restart unless a handler ran, like ERESTARTNOINTR. */
export const ERESTARTNOINTR = new LinuxError(513, "ERESTARTNOINTR", "restart syscall unconditionally");
/** Internal: restart via restart_syscall(2) with saved state, like ERESTART_RESTARTBLOCK. */
export const ERESTART_RESTARTBLOCK = new LinuxError(516, "ERESTART_RESTARTBLOCK", "restart with restart block");

export const EWOULDBLOCK = EAGAIN;
export const ENOTSUP = EOPNOTSUPP;
