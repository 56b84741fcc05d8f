/**
 * The checkpoint's field ledger: for every class whose instances a checkpoint saves, each of its
 * fields is either saved (written to the image by the class's save and read back by its load),
 * derived (rebuilt on restore from saved fields or the host: a host descriptor, a cache, a
 * counter of references the restore recomputes) or refused (not saved yet: a checkpoint of a
 * sandbox where it is not at its default is refused). tests/checkpoint_test.ts parses each class's
 * source for its field declarations and fails when one is in neither list, so a new field
 * cannot silently drop out of the image (docs/checkpoint.md, "Drift guard").
 *
 * @module
 */

/** One class's entry in the ledger. */
export interface LedgerEntry {
  /** The source file, relative to the repository root. */
  file: string;
  className: string;
  /** Fields written to the image ("#name" for a private field, "static name" for a static). */
  saved: readonly string[];
  /** Fields rebuilt on restore, each with why it need not be saved. */
  derived: Readonly<Record<string, string>>;
  /**
   * Fields not saved yet: the checkpoint refuses, in one line, a sandbox where one of them is
   * not at its default (kernel/checkpoint/sandbox.ts says which check).
   */
  refused?: Readonly<Record<string, string>>;
}

/**
 * The classes the checkpoint covers so far. A class saved by a later slice is added here with
 * its save/load, and the guard holds it to its fields from then on.
 */
export const LEDGER: readonly LedgerEntry[] = [
  {
    file: "kernel/fd_table.ts",
    className: "FdTable",
    saved: ["#slots", "limit", "#arraySize"],
    derived: {
      users: "the number of tasks sharing the table: recounted as restored tasks take it",
      closeWatcher: "set by the lock table while POSIX locks exist: restored with the locks",
      "#nextFd": "a search hint (no free descriptor below it): 0, the safe value, in a restored or forked table",
    },
  },
  {
    file: "kernel/mm/mm.ts",
    className: "MemoryManager",
    saved: [
      "vmas",
      "brkStart",
      "brk",
      "stackBottom",
      "argStart",
      "argEnd",
      "envStart",
      "envEnd",
      "executable",
      "#exe",
      "auxv",
      "lockFuture",
      "membarrierRegistered",
    ],
    derived: {
      as: "the host address space (stub process): rebuilt, then the saved pages written into it",
      users: "the number of thread groups using it: recounted as restored groups take it",
      hostCpuCharged: "CPU time of the old host threads: the restored stub starts at zero",
      "#exeUse": "the executable's deny-write count (ETXTBSY): taken again by the exe setter as the restore sets exe",
      withholding:
        "whether the host ever withheld rights here (kernel/userfaultfd.ts): false after a restore, whose host mappings withhold nothing (no marks, no userfaultfd are saved)",
    },
    refused: {
      aio: "io_setup's contexts: a sandbox with any is refused",
      exeFile: "an executable in no directory (a memfd run by execveat): a sandbox running one is refused",
      pageMarks:
        "guard and poisoned pages (and userfaultfd write protection, which needs an open userfaultfd, refused as an open file): a sandbox with any is refused; uncharged pages of size-limited tmpfs mappings are dropped (the restored mappings are open to them)",
    },
  },
  {
    file: "kernel/thread_group.ts",
    className: "ThreadGroup",
    saved: [
      "tgid", "tasks", "mm", "parent", "limits", "handlers", "pgid", "sid", "exitStatus", "zombie", "exitUid", "exitEuid", "exitIds", "exitNice", "exitSched",
      "leaderComm", "sharedPending", "itimerReal", "timerSeq", "dumpable", "subreaper", "execed", "exitSignal",
      "oomScoreAdj", "coredumpFilter", "thpDisable", "userNs", "sysNs", "childUserNs", "childSysNs", "maxRssKb", "childMaxRssKb",
      "itimerVirtual", "itimerProf", "cpuLimitTimers", "posixTimers", "tty", "groupStop", "stopped", "stopReport",
      "continuedReport", "processKeyring",
    ],
    derived: {
      children: "rebuilt from every process's parent",
      deadIo: "as Task.io: I/O statistics start from zero again after a restore",
      parentThread: "0 after a restore: any thread of the parent may wait for the child with __WNOTHREAD",
      childWaitQueue: "sleepers re-register as their restarted syscalls run again",
      exitQueue: "as childWaitQueue",
      threadExitQueue: "as childWaitQueue",
      vforkDone: "as childWaitQueue (vfork itself is refused)",
      startNs: "the restore's time: /proc's start time of a restored process is when it was restored",
      faultInfo: "set as a group dies of a fault, for the CLI's report of init's death; init is alive at a checkpoint",
    },
    refused: {
      exitLandlock: "a zombie whose last task was restricted by Landlock",
      exitUserNs: "a zombie whose last task was in a user namespace of its own",
      oomKilled: "a process the OOM killer chose",
      vforkPending: "a vfork child that has not exec'd",
      pidNs: "a PID namespace other than the root one (clone or unshare with CLONE_NEWPID)",
      cgroup: "a cgroup other than the root (vfs/cgroupfs): a checkpoint refuses a changed cgroup2 hierarchy",
      cgroupMemBase: "set when a process moves between cgroups: a checkpoint refuses a changed cgroup2 hierarchy",
      cgroupCpuBase: "set when a process moves between cgroups: a checkpoint refuses a changed cgroup2 hierarchy",
    },
  },
  {
    file: "kernel/task.ts",
    className: "Task",
    saved: [
      "tid", "tg", "ctx", "sigmask", "pendingSignals", "altStack", "clearChildTid", "robustList", "rseq", "pdeathSignal",
      "timerSlackNs", "defaultTimerSlackNs", "noNewPrivs", "schedDl", "schedPolicy", "schedPriority", "schedResetOnFork", "nice", "ioprio", "schedSliceNs", "name",
      "fdTable", "fs", "creds", "cpuBase", "seccomp", "affinity", "memPolicy", "sessionKeyring", "threadKeyring",
      "reqkeyDefault", "timeNs", "timeNsForChildren", "debugRegs",
    ],
    derived: {
      kernel: "the restoring kernel",
      state: "runnable: every restored task resumes at its syscall instruction or where it was stopped",
      blocked: "a sleep is not saved: its syscall runs again from the start",
      syscallState: "as blocked; a futex wait already woken is saved as returned 0, partial progress as its count",
      syscallFiles: "as blocked: the restarted syscall looks its descriptors up again",
      inSyscall: "the registers are wound back onto the syscall instruction",
      interrupted: "the signal that woke the sleep is still pending and saved: it interrupts the restarted syscall",
      lastBlockRestart: "set again by the restarted syscall's sleep",
      restartCode: "set only for a traced task, and a traced sandbox is not saved",
      exitStop: "set only for a traced task, and a traced sandbox is not saved",
      exitPending: "set only for a traced task, and a traced sandbox is not saved",
      straceEntry: "--strace's text of the syscall in progress: printed again as it restarts",
      cpuFrozen: "false: set only as a thread's host thread goes away, and a saved thread is alive",
      "#args": "a cache of the current context's argument decoder",
      io: "I/O accounting (/proc/PID/io): statistics, counted from zero again after a restore",
      rseqResume: "set for every restored task with an rseq registration (as migrated): its CPU fields are written again",
    },
    refused: {
      savedMask: "the mask a sigsuspend, pselect or ppoll put aside: saved as the thread's mask when the call runs again; refused between its wake and its handler",
      sigWaitSet: "sigtimedwait in progress: the call runs again; refused between its wake and its return",
      personality: "a persona other than PER_LINUX (personality(2))",
      tscSigsegv: "rdtsc made to fault (prctl PR_SET_TSC, PR_TSC_SIGSEGV)",
      uts: "a UTS namespace of its own (unshare or clone with CLONE_NEWUTS): the sandbox's first one is saved as the hostname",
      landlock: "a Landlock domain (landlock_restrict_self)",
      cgroupNs: "a cgroup namespace of its own (unshare or clone with CLONE_NEWCGROUP)",
      net: "a network namespace of its own (unshare or clone with CLONE_NEWNET)",
      ipc: "an IPC namespace of its own (unshare or clone with CLONE_NEWIPC); the sandbox's first one is saved as the sandbox's (kernel/checkpoint/ipc.ts)",
      ptrace: "a task traced with ptrace(2)",
      tracees: "a task tracing others with ptrace(2)",
      pidNsForChildren: "a PID namespace for the task's children other than its own (unshare or setns with CLONE_NEWPID)",
      nprocExceeded: "PF_NPROC_EXCEEDED: a set*uid to a user at RLIMIT_NPROC, not followed by an execve or fork yet",
    },
  },
  {
    file: "kernel/time_namespace.ts",
    className: "TimeNamespace",
    // sandbox.ts timeNamespaces: every one a task holds, by index.
    saved: ["monotonicNs", "boottimeNs", "frozen"],
    derived: {
      owner: "the initial user namespace: a namespace owned by another is refused",
      ino: "a new number, as nsfs numbers namespaces by creation",
    },
  },
  {
    file: "vfs/pipe.ts",
    className: "Pipe",
    saved: ["bufs", "size", "used", "slots", "attrs"],
    derived: {
      readers: "counted by the restored ends",
      writers: "counted by the restored ends",
      readOpens: "a FIFO's open counters: only a blocked open compares them, and it runs again after a restore",
      writeOpens: "as readOpens",
      ino: "a new number, as pipefs numbers pipes by creation",
      queue: "sleepers re-register as their restarted syscalls run again",
      createdNs: "the restore's time",
      times: "futimens' and attribute changes' times: not saved, the restore's time stands for them",
      "#spare": "a cache of a read buffer",
    },
  },
  {
    file: "vfs/pipe.ts",
    className: "PipeBuffer",
    // Pipe.save: the bytes in use (len of them) with their offset within the page.
    saved: ["data", "offset", "len", "canMerge", "packet"],
    derived: { frees: "a restored slot is a copy, never a view of a buffer a write handed over" },
  },
  {
    file: "vfs/anon_file.ts",
    className: "AnonInodeFile",
    saved: [],
    derived: {
      ino: "a new number, as anon_inode numbers files by creation",
      "#path": "fixed by the subclass restored (anon_inode:[eventfd], ...)",
    },
  },
  {
    file: "vfs/eventfd.ts",
    className: "EventFd",
    saved: ["counter", "semaphore"],
    derived: {},
  },
  {
    file: "kernel/timerfd.ts",
    className: "TimerFd",
    saved: ["clock", "deadlineNs", "intervalNs", "ticks"],
    derived: { kernel: "the restoring kernel (the deadline is re-added to its loop)" },
  },
  {
    file: "kernel/signalfd.ts",
    className: "SignalFd",
    saved: ["tg", "mask"],
    derived: { kernel: "the restoring kernel" },
  },
  {
    file: "vfs/epoll.ts",
    className: "EpollInstance",
    saved: ["#items", "#ready"],
    derived: {},
  },
  {
    file: "vfs/epoll.ts",
    className: "EpollItem",
    saved: ["events", "data", "file", "fd"],
    derived: { ep: "the set that holds the registration: restored into it (restoreRegistrations)" },
  },
  {
    file: "vfs/inotify.ts",
    className: "InotifyFile",
    saved: ["events", "watches", "nextWd"],
    derived: {
      queuedBytes: "the sizes of the queued events: recounted as each is queued again",
      overflowQueued: "whether the queue holds the IN_Q_OVERFLOW event: found again as it is queued",
      charge: "whom the instance counts against (max_user_instances/watches): a restored instance counts against nobody, so the per-user counts start afresh (the limits are saved: kernel/ucounts.ts)",
    },
  },
  {
    file: "vfs/inotify.ts",
    className: "InotifyEvent",
    saved: ["wd", "mask", "cookie", "name"],
    derived: {
      nameBytes: "the name, encoded again",
      size: "computed from the name",
    },
  },
  {
    file: "kernel/socket/socket.ts",
    className: "SocketFile",
    // The socket level's state (kernel/socket/sockopt.ts): each family's saved form carries it
    // (inet_sockets.ts's inet options, unix_sockets.ts's and netlink.ts's buffers and option pairs).
    saved: [
      "recvTimeoutNs", "sendTimeoutNs", "sndBuf", "rcvBuf", "reuseAddr", "reusePort", "keepalive", "broadcast", "lingerOn",
      "lingerSecs", "boundDev", "passcred", "sockOptions",
    ],
    derived: {
      sockFilter: "none after a restore: a socket with a filter is refused in one line (save.ts saveFile)",
      filterLocked: "false after a restore: a locked socket is refused in one line (save.ts saveFile)",
      ino: "a new number, as sockfs numbers sockets by creation",
      streamVia: "fixed by the family's class",
    },
    refused: {
      inodeAttrs: "a mode or owner fchmod or fchown gave the socket (save.ts saveFile)",
      inodeTimes: "futimens' and attribute changes' times: not saved, the socket's creation time stands for them",
    },
  },
  {
    file: "kernel/socket/unix/unix_socket.ts",
    className: "UnixSocket",
    saved: [
      "type", "protocol", "ownerCred", "state", "peer", "address", "peerCred", "dead", "embryo", "queue", "acceptQueue",
      "backlog", "shutdownMask", "error",
    ],
    derived: {
      family: "AF_UNIX, fixed by the class",
      ns: "the restoring kernel's abstract namespace (abstract names are registered in it again)",
      queuedBytes: "recounted from the restored queue",
      wmem: "recounted from the charges of the restored messages",
      roomWaiters: "a sender re-registers as its restarted send, or its poll or epoll registration, finds no room",
    },
    refused: {
      landlock: "its maker's Landlock domain: a socket made under one is refused (save.ts saveSocket)",
    },
  },
  {
    file: "vfs/fifo.ts",
    className: "FifoEnd",
    saved: ["#loc", "#rdwr"],
    derived: {
      "#partnerOpens": "compared only while a blocking open waits for its partner; such an open runs again after a restore",
      "#hupAfter": "set again as the end is reopened (a non-blocking reader opened with no writer hides POLLHUP until one opens)",
    },
  },
  {
    file: "vfs/located_file.ts",
    className: "LocatedFile",
    saved: ["loc"],
    derived: {},
  },
  {
    file: "vfs/tty/terminal.ts",
    className: "Terminal",
    saved: ["index", "ld", "winsize", "session", "foregroundPgrp", "slaveEverOpened", "hungUp", "locked", "exclusive", "packet", "pktStatus"],
    derived: {
      masterOpens: "counted by the restored master descriptions (and the console's bridge)",
      slaveOpens: "counted by the restored slave descriptions",
      slaveQueue: "sleepers re-register as their restarted syscalls run again",
      masterQueue: "as slaveQueue; the console's bridge registers anew",
      host: "the restoring kernel's terminal support",
      hangups: "restarts at 0: what it orders is which slave descriptions a vhangup hung up, saved by each (vhungUp)",
    },
  },
  {
    file: "vfs/tty/line_discipline.ts",
    className: "LineDiscipline",
    saved: ["termios", "#input", "#delims", "#committed", "#consumed", "#line", "#flip", "#output", "column", "#lineColumn", "#lnext", "stopped"],
    derived: { signals: "sent to the foreground group as the input that raised them is received: none wait between calls" },
  },
  {
    file: "vfs/tty/termios.ts",
    className: "Termios",
    saved: ["iflag", "oflag", "cflag", "lflag", "line", "cc", "ispeed", "ospeed"],
    derived: {},
  },
  {
    file: "vfs/tty/tty_file.ts",
    className: "TtyFile",
    saved: ["terminal", "#loc"],
    derived: {},
  },
  {
    file: "vfs/tty/tty_file.ts",
    className: "PtySlaveFile",
    saved: ["#hangups"],
    derived: {},
  },
  {
    file: "vfs/tty/tty_file.ts",
    className: "PtyMasterFile",
    saved: [],
    derived: { "#owner": "the restoring kernel's devpts" },
  },
  {
    file: "vfs/directory_file.ts",
    className: "DirectoryFile",
    saved: ["#entries"],
    derived: {},
  },
  {
    file: "vfs/overlay/overlay_file.ts",
    className: "OverlayDirectoryFile",
    saved: [],
    derived: { "#real": "the layer's real directory: opened again when the overlay directory is reopened by path" },
  },
  {
    file: "vfs/lock.ts",
    className: "LockTable",
    saved: ["#inodes"],
    derived: {
      "#keys": "each description's file identity: computed again from the restored descriptions as their locks are installed",
      "#posixCount": "POSIX locks per descriptor table: recounted as the saved records are installed",
      "#waiting": "POSIX owners asleep in F_SETLKW: their syscall runs again after the restore and notes them again",
    },
  },
  {
    file: "vfs/lock.ts",
    className: "InodeLocks",
    saved: ["records", "flocks"],
    derived: {
      queue: "the lockers asleep on the file: their flock or F_SETLKW runs again after the restore and sleeps on it again",
    },
  },
  {
    file: "vfs/memfd.ts",
    className: "MemFd",
    saved: [],
    derived: {
      "#inode": "a new file: its name and contents are saved (memfd.ts); a memfd opened twice is refused",
      "#fd": "the new file's host memfd, into which the saved contents are written and on which the saved seals are set",
    },
  },
  {
    file: "kernel/io_uring.ts",
    className: "IoUring",
    saved: ["mem", "sqEntries", "cqEntries", "setupFlags", "sqHead", "cqTail", "overflow", "buffers", "completions"],
    derived: {
      ringsSize: "computed from the ring sizes and setup flags, as at io_uring_setup",
      sqArrayOff: "computed from the ring sizes and setup flags, as at io_uring_setup",
      sqesOff: "computed from the ring sizes and setup flags, as at io_uring_setup",
      deadlines: "the restoring kernel's deadline list",
      "#cancels": "empty between two syscalls: cancels are completed within the request that asked for them",
    },
    refused: {
      inFlight: "requests in flight (a read waiting for its file, a poll, a timeout): a checkpoint refuses the ring",
      drained: "requests held behind IOSQE_IO_DRAIN: in flight, refused",
      timeouts: "IORING_OP_TIMEOUTs: in flight, refused",
      files: "IORING_REGISTER_FILES' table: refused",
      eventFd: "IORING_REGISTER_EVENTFD's eventfd: refused",
      eventFdAsync: "set with eventFd: refused with it",
    },
  },
  {
    file: "vfs/memfd.ts",
    className: "MemfdInode",
    saved: ["name"],
    derived: {
      fd: "a new host memfd",
      ino: "a new number, as memfd inodes are numbered by creation",
      createdNs: "the restore's time, as fstat's times of a memfd",
      refs: "one per restored description",
    },
  },
  {
    file: "netstack/tcp/tcp_socket.ts",
    className: "TcpSocket",
    saved: [
      "#opts", "#state", "#localAddr", "#localPort", "#remote", "#bound", "#registered", "wildcardVersion", "reuseAddr",
      "reusePort", "boundDevice", "#backlog", "#synBacklog", "#synQueueLen", "#acceptQueue", "#parent", "#rx", "#tx", "#assembler", "#iss",
      "#sndUna", "#sndNxt", "#sndMax", "#sndWnd", "#maxSndWnd", "#sndWl1", "#sndWl2", "#sndMss", "#rcvMss", "#sndShift",
      "#offload", "#irs", "#rcvNxt", "#rcvShift", "#rxFinSeq", "#finReceived", "#wsEnabled", "#tsEnabled", "#tsOffset",
      "#tsRecent", "#sackEnabled", "#lastAckSent", "#synPending", "#finQueued", "#finAcked", "#rstPending", "#rstPendingFor",
      "#scoreboard", "#dupAcks", "#recovery", "#rexmitAt", "#rexmitHigh", "#rttSeq", "#rttStart", "#retries", "#rtt", "#cc",
      "#ackNow", "#lastSackSeq", "#acksOwed", "#segsUnacked", "#lastAdvWindow", "#rtoAt", "#delayedAckAt", "#timeWaitAt",
      "#keepaliveAt", "#persistAt", "#finWait2At", "#corkAt", "#keepaliveProbes", "#persistBackoff", "#lastRecvAt", "#probePending",
      "#error", "#userClosed", "#shutRd", "#shutWr", "#wasConnected", "#portLocked",
    ],
    derived: { "#host": "the restoring kernel's stack, which takes the socket's port and 4-tuple back (TcpSocket.restore)" },
  },
  {
    file: "netstack/tcp/ring_buffer.ts",
    className: "RingBuffer",
    saved: ["#len"],
    derived: {
      "#capacity": "the socket's saved buffer size (TcpOptions), given to the new ring",
      "#skew": "fixed by the queue's kind (receive or send)",
      "#storage": "the saved bytes (those past the end too) are written into a new storage from its start",
      "#read": "0: the saved bytes start at the first queued byte",
    },
  },
  {
    file: "netstack/tcp/assembler.ts",
    className: "Assembler",
    saved: ["#ranges"],
    derived: {},
  },
  {
    file: "netstack/tcp/rtt.ts",
    className: "RttEstimator",
    saved: ["srtt", "rttvar", "rto"],
    derived: { minRto: "the socket's saved TcpOptions.minRto", maxRto: "the socket's saved TcpOptions.maxRto" },
  },
  {
    file: "netstack/tcp/congestion.ts",
    className: "NewReno",
    saved: ["cwnd", "ssthresh", "#acc"],
    derived: { algorithm: "fixed by the class, which the saved TcpOptions.congestion chooses" },
  },
  {
    file: "netstack/tcp/congestion.ts",
    className: "Cubic",
    saved: ["cwnd", "ssthresh", "#wMax", "#epochStart", "#k", "#wEst", "#acc"],
    derived: { algorithm: "fixed by the class, which the saved TcpOptions.congestion chooses" },
  },
  {
    file: "netstack/udp/udp_socket.ts",
    className: "UdpSocket",
    saved: [
      "#localAddr", "#localPort", "#bound", "wildcardVersion", "reuseAddr", "reusePort", "boundDevice", "#remote", "#rx", "#tx", "#rxLimit",
      "#txLimit", "#error", "drops", "#portLocked", "recvErr", "#errQueue", "multicastLoop", "multicastIf", "multicastIfAddr", "groups",
    ],
    derived: {
      "#host": "the restoring kernel's stack, which takes the socket's port back (UdpSocket.restore)",
      filter: "the owner's socket filter, never restored: a socket with one is refused (save.ts saveFile)",
      "#rxBytes": "recounted from the restored queue",
      "#txBytes": "recounted from the restored queue",
      "#closed": "false: a closed UDP socket has left its stack and no descriptor holds it, so it is never saved",
    },
    refused: {
      lite: "a UDP-Lite socket is not saved yet: its file's checkpoint is refused in one line (inet_sockets.ts saveFile)",
      sendCoverage: "UDPLITE_SEND_CSCOV: set only on a UDP-Lite socket, which is refused (-1 on any other)",
      recvCoverage: "UDPLITE_RECV_CSCOV: as sendCoverage",
    },
  },
  {
    file: "netstack/udp/icmp_socket.ts",
    className: "IcmpSocket",
    saved: ["#ident", "#bound", "#rx", "#tx", "#queueLimit"],
    derived: { "#host": "the restoring kernel's stack, which takes the identifier back (IcmpSocket.restore)" },
  },
  {
    file: "kernel/socket/inet/udp.ts",
    className: "PingSocketFile",
    saved: ["sock", "#bound", "#peer", "#received"],
    derived: { type: "SOCK_DGRAM, fixed by the class", protocol: "IPPROTO_ICMP or IPPROTO_ICMPV6, by the saved family" },
  },
  {
    file: "kernel/socket/inet/inet_socket.ts",
    className: "InetSocketFile",
    saved: ["family", "uid", "v6only", "ttl", "tos", "#flags"],
    derived: {
      net: "the restoring kernel's network",
      "#lastEvents": "what the wait queue was last told: recomputed at the first poll round, and sleepers re-register as their syscalls run again",
      "#lastRx": "as #lastEvents",
    },
  },
  {
    file: "kernel/socket/inet/tcp.ts",
    className: "TcpSocketFile",
    saved: ["sock", "#bound", "#connecting", "#noDelay", "#cork", "#keepIdle", "#keepIntvl", "#keepCnt", "#tcpFlags", "#congestion"],
    derived: { type: "SOCK_STREAM, fixed by the class", protocol: "IPPROTO_TCP, fixed by the class", streamVia: "fixed by the class" },
  },
  {
    file: "kernel/socket/inet/udp.ts",
    className: "UdpSocketFile",
    saved: ["sock", "#bound", "#held", "#received", "#shutRd", "#shutWr", "#stamp"],
    derived: {
      type: "SOCK_DGRAM, fixed by the class",
      protocol: "IPPROTO_UDP by the saved socket (a UDP-Lite socket, IPPROTO_UDPLITE, is refused)",
      "#scratch": "a receive buffer, empty between calls",
    },
  },
  {
    file: "netstack/iface/stack.ts",
    className: "Stack",
    saved: ["#tcpPorts", "#tcpConns", "#tcpLive", "#udpPorts", "#udpSockets", "#icmpIdents", "#icmpSockets"],
    derived: {
      "#interfaces": "made by the restoring kernel's Net, as the restoring command's --network asks (connections through another are saved reset)",
      routes: "as #interfaces",
      "#rng": "a new seed: ephemeral choices only need to be unpredictable, and every saved socket keeps its own ports and numbers",
      "#isnSecret": "as #rng: a saved connection keeps its sequence numbers",
      "#tcpDefaults": "the restoring kernel's; a saved socket keeps its own options",
      "#trace": "a debugging sink of the restoring sentry",
      "#tap": "--pcap's sink: the restoring command's",
      "#ipIdent": "IP identification numbers: only unique within a reassembly timeout, and none is in progress (refused)",
      "#ipv6Ident": "as #ipIdent",
      "#forwarding": "only the gateway stack's (--network sandbox), which is host plumbing, made anew",
      "#heldSyns": "refused unless empty (Stack.unsavedTraffic)",
      "#newSyns": "as #heldSyns",
      "#heldDatagrams": "as #heldSyns",
      "#localPeers": "a cache, cleared as each restored connection registers",
      "#tcpActive": "every restored connection is active until its first dispatch, which files it by its deadline",
      "#tcpSpare": "empty between dispatches",
      "#tcpTimers": "rebuilt from each restored connection's timers at its first dispatch",
      "#blocked": "refused unless empty (Stack.unsavedTraffic)",
      "#reassembler": "refused unless empty (Stack.unsavedTraffic)",
      "#localQueue": "refused unless empty (Stack.unsavedTraffic): packets in flight inside the stack",
      stats: "counters for tests and /proc: start again at zero",
      loConf: "the restoring kernel's Net.sysctl object, shared (its values are saved with the sandbox's netSysctl)",
      mib: "/proc/net/snmp's counters: start again at zero, as a new network namespace's (CurrEstab is counted, not kept)",
    },
    refused: {
      localMtu: "lo's MTU changed by RTM_SETLINK: Net.configChanged is set, and the checkpoint refuses the sandbox (the restoring stack starts at 65535)",
      "#rawSockets": "raw sockets are not saved yet: each belongs to a RawSocketFile, whose checkpoint is refused in one line (inet_sockets.ts saveFile)",
      "#packetSockets": "packet sockets are not saved yet: each belongs to a PacketSocketFile, whose checkpoint is refused in one line (inet_sockets.ts saveFile)",
      "#udpLitePorts": "holds only UDP-Lite sockets, which are not saved yet: each one's file refuses the checkpoint (inet_sockets.ts saveFile)",
    },
  },
  {
    file: "kernel/ipc.ts",
    className: "IpcRegistry",
    saved: ["#slots", "#byKey", "#seq", "#count"],
    derived: {
      max: "IPC_LIMITS' for its kind: the kernel's IPC namespace, the only one saved, is made with them again (changed limits are refused)",
      owner: "the initial user namespace, the kernel's IPC namespace's (a task in another IPC namespace is refused)",
    },
    refused: { nextId: "a /proc/sys/kernel/*_next_id set and not yet taken by an object" },
  },
  {
    file: "kernel/ipc.ts",
    className: "IpcNamespace",
    saved: ["mqueue", "shm", "sem", "msg", "semUndo"],
    derived: {
      sysctls: "Linux's defaults: a checkpoint refuses limits that were changed (/proc/sys/kernel/shm*, msg*, sem)",
      owner: "the initial user namespace: only the kernel's IPC namespace is saved (a task in another is refused)",
      ino: "IPC_NS_INIT_INO, the kernel's IPC namespace's, the only one saved",
    },
  },
  {
    file: "vfs/mqueue.ts",
    className: "MessageQueue",
    saved: ["maxmsg", "msgsize", "messages", "notify", "charge"],
    derived: {
      bytes: "recounted as the saved messages are queued again",
      queue: "sleepers and epoll re-register as their restarted syscalls run again",
      receivers: "as queue: receivers asleep add themselves again as their mq_timedreceive runs again",
    },
  },
  {
    file: "vfs/mqueue.ts",
    className: "MqueueFilesystem",
    saved: ["root"],
    derived: {
      name: "fixed by the class",
      readonly: "fixed by the class",
      dev: "the restoring kernel's number for the namespace's instance",
      internalMount: "made anew by the first restored descriptor (ipc.ts openMqueue)",
      chargeNew: "a hook the kernel sets as it mounts the filesystem (sys_mount.ts); a checkpoint refuses queues opened through such a mount",
      "#nextIno": "a queue's inode number is new after a restore, as a pipe's",
    },
  },
  {
    file: "vfs/mqueue.ts",
    className: "MqueueRoot",
    saved: ["#attrs", "queues"],
    derived: { "#fs": "the restoring kernel's namespace's filesystem" },
  },
  {
    file: "vfs/mqueue.ts",
    className: "MqueueFile",
    saved: ["#attrs", "queue"],
    derived: { "#root": "the restoring kernel's namespace's directory", "#ino": "a new number, as MqueueFilesystem.#nextIno" },
  },
  {
    file: "vfs/mqueue.ts",
    className: "MqueueDescription",
    saved: ["file"],
    derived: {},
  },
  {
    file: "vfs/kernfs/kernfs.ts",
    className: "SnapshotFile",
    saved: ["#data"],
    derived: { "#file": "the file its saved path leads to in the restored sandbox's /proc or /sys (proc_files.ts)" },
  },
  {
    file: "kernel/pidfd.ts",
    className: "PidFd",
    saved: ["tg", "tid"],
    derived: { kernel: "the restoring kernel" },
  },
  {
    file: "kernel/socket/netlink/socket.ts",
    className: "NetlinkSocket",
    saved: ["type", "portId", "#bound", "rx", "#nlFlags", "#groups", "#overrun", "openerNetAdmin", "#rxFrom"],
    derived: {
      family: "AF_NETLINK, fixed by the class",
      protocol: "NETLINK_ROUTE, fixed by the class saved (the other protocols' sockets are refused)",
      net: "the restoring kernel's network (a socket of another namespace is refused)",
    },
  },
  {
    file: "kernel/socket/netlink/route.ts",
    className: "NetlinkRouteSocket",
    saved: [],
    derived: {
      groupsMax: "fixed by the class",
      "#onLink": "registered with the restoring network by the constructor",
    },
  },
  {
    file: "kernel/ucounts.ts",
    className: "UCounts",
    saved: ["initMax"],
    derived: {
      "#max": "the limits of user namespaces other than the initial one: a task in one is refused (save.ts saveTask)",
      "#held": "what each user holds: a restored inotify instance counts against nobody, so the counts start afresh",
      "#makers": "who made each namespace: a restored one counts against no one, as a restored inotify instance",
    },
  },
  {
    file: "kernel/keys.ts",
    className: "KeyRegistry",
    saved: ["#bySerial", "#userKeyrings", "limits"],
    derived: { "#users": "each user's charge: the sum of their keys' (kernel/checkpoint/keys.ts)" },
  },
  {
    file: "kernel/keys.ts",
    className: "Key",
    saved: ["serial", "type", "description", "uid", "gid", "perm", "links", "payload", "rejectErrno", "revoked", "revokedAt", "invalidated", "expiry", "quotaLen", "datalen"],
    derived: {
      unreachableSince: "the collector's grace starts again after a restore",
      credHeld: "set again for the keyrings the restored tasks and processes hold (an unheld one is the collector's anyway)",
    },
  },
];

/**
 * The fields declared in the body of class `className` in `source`: instance and static, public
 * and `#private`, with or without an initializer or `readonly`, and the constructor's parameter
 * properties (`constructor(readonly x: T)`: a parameter with an accessibility or `readonly`
 * modifier is a field too). Fields added in the constructor by assignment are not declarations
 * and are not found: the code style here declares every field in the class body (deno check's
 * strict mode requires it for `#`). Returns null when the class is not found.
 */
export function declaredFields(source: string, className: string): string[] | null {
  const lines = source.split("\n");
  const start = lines.findIndex((l) => new RegExp(`^(export )?(abstract )?class ${className}\\b`).test(l));
  if (start < 0) return null;
  const fields: string[] = [];
  // A class body's members sit at two spaces of indentation and the class ends at a "}" in
  // column 0 (the formatter's layout, which `deno fmt` keeps).
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("}")) break;
    if (/^ {2}constructor\(/.test(line)) {
      fields.push(...parameterProperties(lines, i));
      continue;
    }
    const m = /^ {2}((?:(?:static|readonly|declare|override|public|protected|private) )*)(#?[A-Za-z_$][\w$]*)(\??!?)\s*([:=;]|$)/.exec(line);
    if (m === null) continue;
    const mods = m[1]!;
    const name = m[2]!;
    // `get x(`/`set x(`/`async x(` and methods have "(" after the name: the regex needs [:=;]
    // or end of line right after it, so they do not match.
    if (name === "get" || name === "set" || name === "async") continue;
    fields.push(mods.includes("static ") ? `static ${name}` : name);
  }
  return fields;
}

/**
 * The parameter properties of the constructor whose parameter list opens on line `at`: its
 * parameters (split at the commas outside brackets and quotes, comments dropped) that begin with
 * `readonly`, `public`, `protected`, `private` or `override`.
 */
function parameterProperties(lines: readonly string[], at: number): string[] {
  const params: string[] = [];
  let param = "";
  let depth = 0;
  let quote: string | null = null;
  // From the "(" after "constructor" to its ")": brackets of types and defaults nest inside.
  scan: for (let i = at; i < lines.length; i++) {
    const line = lines[i]!.replace(/\/\*.*?\*\//g, " ").replace(/^\s*(\/\/|\/?\*).*$/, "");
    for (let j = i === at ? line.indexOf("(") : 0; j < line.length; j++) {
      const c = line[j]!;
      if (quote !== null) {
        if (c === quote) quote = null;
      } else if (c === '"' || c === "'" || c === "`") {
        quote = c;
      } else if ("([{<".includes(c)) {
        if (depth++ === 0) continue;
      } else if (")]}".includes(c) || (c === ">" && line[j - 1] !== "=")) {
        if (--depth === 0) break scan;
      } else if (c === "," && depth === 1) {
        params.push(param);
        param = "";
        continue;
      }
      param += c;
    }
    param += " ";
  }
  params.push(param);
  const out: string[] = [];
  for (const p of params) {
    const m = /^\s*((?:(?:readonly|public|protected|private|override)\s+)+)([A-Za-z_$][\w$]*)/.exec(p);
    if (m !== null) out.push(m[2]!);
  }
  return out;
}
