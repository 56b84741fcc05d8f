/** userfaultfd(2)'s ABI (include/uapi/linux/userfaultfd.h, Linux 6.18). */

export const UFFD_API = 0xaa;
export const UFFD_USER_MODE_ONLY = 1;

/** ioctl numbers: _IOWR/_IOR(0xAA, nr, struct). */
export const UFFDIO_API = 0xc018aa3f;
export const UFFDIO_REGISTER = 0xc020aa00;
export const UFFDIO_UNREGISTER = 0x8010aa01;
export const UFFDIO_WAKE = 0x8010aa02;
export const UFFDIO_COPY = 0xc028aa03;
export const UFFDIO_ZEROPAGE = 0xc020aa04;
export const UFFDIO_MOVE = 0xc028aa05;
export const UFFDIO_WRITEPROTECT = 0xc018aa06;
export const UFFDIO_CONTINUE = 0xc020aa07;
export const UFFDIO_POISON = 0xc020aa08;
/** /dev/userfaultfd's ioctl: _IO(0xAA, 0). */
export const USERFAULTFD_IOC_NEW = 0xaa00;

/** The _UFFDIO_* bit numbers of uffdio_api.ioctls and uffdio_register.ioctls. */
export const _UFFDIO_REGISTER = 0, _UFFDIO_UNREGISTER = 1, _UFFDIO_WAKE = 2, _UFFDIO_COPY = 3, _UFFDIO_ZEROPAGE = 4;
export const _UFFDIO_MOVE = 5, _UFFDIO_WRITEPROTECT = 6, _UFFDIO_CONTINUE = 7, _UFFDIO_POISON = 8, _UFFDIO_API = 0x3f;

export const UFFDIO_REGISTER_MODE_MISSING = 1, UFFDIO_REGISTER_MODE_WP = 2, UFFDIO_REGISTER_MODE_MINOR = 4;
export const UFFDIO_COPY_MODE_DONTWAKE = 1, UFFDIO_COPY_MODE_WP = 2;
export const UFFDIO_ZEROPAGE_MODE_DONTWAKE = 1;
export const UFFDIO_MOVE_MODE_DONTWAKE = 1, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES = 2;
export const UFFDIO_WRITEPROTECT_MODE_WP = 1, UFFDIO_WRITEPROTECT_MODE_DONTWAKE = 2;
export const UFFDIO_POISON_MODE_DONTWAKE = 1;

export const UFFD_EVENT_PAGEFAULT = 0x12;
export const UFFD_PAGEFAULT_FLAG_WRITE = 1, UFFD_PAGEFAULT_FLAG_WP = 2, UFFD_PAGEFAULT_FLAG_MINOR = 4;

export const UFFD_FEATURE_PAGEFAULT_FLAG_WP = 1 << 0;
export const UFFD_FEATURE_EVENT_FORK = 1 << 1;
export const UFFD_FEATURE_EVENT_REMAP = 1 << 2;
export const UFFD_FEATURE_EVENT_REMOVE = 1 << 3;
export const UFFD_FEATURE_MISSING_HUGETLBFS = 1 << 4;
export const UFFD_FEATURE_MISSING_SHMEM = 1 << 5;
export const UFFD_FEATURE_EVENT_UNMAP = 1 << 6;
export const UFFD_FEATURE_SIGBUS = 1 << 7;
export const UFFD_FEATURE_THREAD_ID = 1 << 8;
export const UFFD_FEATURE_MINOR_HUGETLBFS = 1 << 9;
export const UFFD_FEATURE_MINOR_SHMEM = 1 << 10;
export const UFFD_FEATURE_EXACT_ADDRESS = 1 << 11;
export const UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1 << 12;
export const UFFD_FEATURE_WP_UNPOPULATED = 1 << 13;
export const UFFD_FEATURE_POISON = 1 << 14;
export const UFFD_FEATURE_WP_ASYNC = 1 << 15;
export const UFFD_FEATURE_MOVE = 1 << 16;

/** sizeof(struct uffd_msg). */
export const UFFD_MSG_SIZE = 32;
