/* Shared by the events fixtures: print a call's result and errno by name, so that output is the
 * same on any Linux. */
#include <errno.h>
#include <stdio.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case ESRCH: return "ESRCH";
    case ECHILD: return "ECHILD";
    case EINTR: return "EINTR";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case E2BIG: return "E2BIG";
    case ENOMSG: return "ENOMSG";
    case EIDRM: return "EIDRM";
    case EFBIG: return "EFBIG";
    case ERANGE: return "ERANGE";
    case ENOSPC: return "ENOSPC";
    case EAGAIN: return "EAGAIN";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ESPIPE: return "ESPIPE";
    case EPIPE: return "EPIPE";
    case EDEADLK: return "EDEADLK";
    case ENOLCK: return "ENOLCK";
    case ELOOP: return "ELOOP";
    case ELIBBAD: return "ELIBBAD";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EOVERFLOW: return "EOVERFLOW";
    case ENOMEM: return "ENOMEM";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EIO: return "EIO";
    case ENODEV: return "ENODEV";
    case ENOTTY: return "ENOTTY";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENETUNREACH: return "ENETUNREACH";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EADDRINUSE: return "EADDRINUSE";
    case ENOBUFS: return "ENOBUFS";
    case ESTALE: return "ESTALE";
    case EMFILE: return "EMFILE";
    case EUSERS: return "EUSERS";
    case ENOTSOCK: return "ENOTSOCK";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    default: return "E?";
  }
}

#define R(name, expr) do { errno = 0; long r_ = (long)(expr); \
  printf("%s = %ld %s\n", name, r_, r_ < 0 ? en(errno) : ""); } while (0)
