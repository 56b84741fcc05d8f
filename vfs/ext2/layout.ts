/**
 * The on-disk format of ext2 (Linux's fs/ext2/ext2.h, Documentation/filesystems/ext2.rst): the
 * superblock's and inode's field offsets, feature bits, and the pure arithmetic on them. All
 * values are little-endian.
 *
 * @module
 */

export const EXT2_SUPER_MAGIC = 0xef53;
export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
export const ROOT_INO = 2;
export const GOOD_OLD_INODE_SIZE = 128;
export const GOOD_OLD_FIRST_INO = 11;
export const EXT2_LINK_MAX = 32000;
export const NAME_MAX = 255;
export const N_DIRECT = 12;
export const IND = 12, DIND = 13, TIND = 14;
export const GROUP_DESC_SIZE = 32;

/** Superblock field offsets. */
export const SB = {
  inodesCount: 0, blocksCount: 4, rBlocksCount: 8, freeBlocks: 12, freeInodes: 16, firstDataBlock: 20,
  logBlockSize: 24, blocksPerGroup: 32, inodesPerGroup: 40, mtime: 44, wtime: 48, mntCount: 52,
  maxMntCount: 54, magic: 56, state: 58, errors: 60, revLevel: 76, defResuid: 80, defResgid: 82,
  firstIno: 84, inodeSize: 88, featureCompat: 92, featureIncompat: 96, featureRoCompat: 100,
  lastMounted: 136, wantExtraIsize: 350,
} as const;

export const STATE_VALID = 1, STATE_ERROR = 2;

export const COMPAT_DIR_PREALLOC = 0x1, COMPAT_IMAGIC_INODES = 0x2, COMPAT_HAS_JOURNAL = 0x4,
  COMPAT_EXT_ATTR = 0x8, COMPAT_RESIZE_INODE = 0x10, COMPAT_DIR_INDEX = 0x20;
export const INCOMPAT_FILETYPE = 0x2, INCOMPAT_RECOVER = 0x4, INCOMPAT_JOURNAL_DEV = 0x8, INCOMPAT_META_BG = 0x10;
export const RO_COMPAT_SPARSE_SUPER = 0x1, RO_COMPAT_LARGE_FILE = 0x2, RO_COMPAT_BTREE_DIR = 0x4;

/** Incompatible features this driver handles: anything else is refused (EINVAL). */
export const INCOMPAT_SUPPORTED = INCOMPAT_FILETYPE;
/** Read-only-compatible features it writes correctly: anything else mounts read-only only. */
export const RO_COMPAT_SUPPORTED = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR;

/** Group descriptor field offsets (32-byte descriptors). */
export const GD = { blockBitmap: 0, inodeBitmap: 4, inodeTable: 8, freeBlocks: 12, freeInodes: 14, usedDirs: 16 } as const;

/** Inode field offsets. */
export const INO = {
  mode: 0, uid: 2, sizeLo: 4, atime: 8, ctime: 12, mtime: 16, dtime: 20, gid: 24, links: 26, blocks: 28,
  flags: 32, block: 40, generation: 100, fileAcl: 104, sizeHigh: 108, blocksHi: 116, fileAclHigh: 118,
  uidHigh: 120, gidHigh: 122, extraIsize: 128, ctimeExtra: 132, mtimeExtra: 136, atimeExtra: 140,
  crtime: 144, crtimeExtra: 148,
} as const;

/** i_flags: the htree index a directory may carry (dir_index), cleared when ext2 changes it. */
export const INDEX_FL = 0x1000;
/** i_flags of ext4's extents and inline data: an inode ext2 cannot read. */
export const EXTENTS_FL = 0x80000, INLINE_DATA_FL = 0x10000000;

/** Directory entry file types (the filetype feature). */
export const FT_UNKNOWN = 0, FT_REG = 1, FT_DIR = 2, FT_CHR = 3, FT_BLK = 4, FT_FIFO = 5, FT_SOCK = 6, FT_SYMLINK = 7;

/** The size a directory record with a name of n bytes needs (EXT2_DIR_REC_LEN). */
export function recLen(n: number): number {
  return (8 + n + 3) & ~3;
}

/** Whether group g holds a copy of the superblock and descriptors (sparse_super: 0, 1, powers of 3, 5, 7). */
export function groupHasSuper(g: number, sparse: boolean): boolean {
  if (!sparse || g <= 1) return true;
  if (g % 2 === 0) return false;
  for (const p of [3, 5, 7]) {
    let n = p;
    while (n < g) n *= p;
    if (n === g) return true;
  }
  return false;
}

/** Linux's MAX_LFS_FILESIZE on 64-bit, cut to what a JavaScript number holds exactly. */
const MAX_LFS_FILESIZE = Number.MAX_SAFE_INTEGER;

/**
 * The largest file size for blocks of 2^bits bytes (Linux's ext2_max_size): what the block tree
 * addresses, bounded so that data and indirect blocks together fit i_blocks' 2^32 - 1 sectors.
 */
export function ext2MaxSize(bits: number): number {
  const ppb = 2 ** (bits - 2);
  let upper = Math.floor((2 ** 32 - 1) / 2 ** (bits - 9));
  let res = N_DIRECT + ppb + ppb * ppb + ppb * ppb * ppb;
  let meta = 1 + (1 + ppb) + (1 + ppb + ppb * ppb);
  if (res + meta > upper) {
    res = upper;
    upper -= N_DIRECT;
    meta = 1;
    upper -= ppb;
    if (upper < ppb * ppb) {
      meta += 1 + Math.ceil(upper / ppb);
    } else {
      meta += 1 + ppb;
      upper -= ppb * ppb;
      meta += 1 + Math.ceil(upper / ppb) + Math.ceil(upper / (ppb * ppb));
    }
    res -= meta;
  }
  return Math.min(res * 2 ** bits, MAX_LFS_FILESIZE);
}

/** Encodes a time for an inode with extra fields: 32 bits of seconds and the extra word (epoch bits, nanoseconds). */
export function encodeTime(ns: bigint): { sec: number; extra: number } {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) (nsec += 1_000_000_000n, sec -= 1n);
  // Seconds beyond 32 signed bits carry into the two epoch bits (ext4_encode_extra_time).
  const epoch = Number(((sec - BigInt.asIntN(32, sec)) >> 32n) & 3n);
  return { sec: Number(BigInt.asUintN(32, sec)), extra: (Number(nsec) << 2) | epoch };
}

/** Decodes seconds and an optional extra word (ext4_decode_extra_time). */
export function decodeTime(sec: number, extra: number | null): bigint {
  let s = BigInt(sec | 0);
  let ns = 0n;
  if (extra !== null) {
    s += BigInt(extra & 3) << 32n;
    ns = BigInt(extra >>> 2);
    if (ns >= 1_000_000_000n) ns = 0n;
  }
  return s * 1_000_000_000n + ns;
}

/**
 * A device number (the sentry's: glibc's dev_t, vfs/devices.ts majorMinor) as ext2 stores it:
 * Linux's old 16-bit encoding in i_block[0] when major and minor fit a byte each, else its new
 * 32-bit encoding in i_block[1] (ext2_set_inode's old_encode_dev / new_encode_dev).
 */
export function encodeDev(major: number, minor: number): { old: number; new: number } {
  if (major < 256 && minor < 256) return { old: (major << 8) | minor, new: 0 };
  return { old: 0, new: ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0 };
}

/** The device number (glibc's dev_t layout) of i_block[0] and i_block[1]. */
export function decodeDev(b0: number, b1: number): number {
  let major: number, minor: number;
  if (b0 !== 0) {
    major = (b0 >>> 8) & 0xff;
    minor = b0 & 0xff;
  } else {
    major = (b1 & 0xfff00) >>> 8;
    minor = (b1 & 0xff) | ((b1 >>> 12) & 0xfff00);
  }
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & 0xfff00) << 12)) >>> 0;
}
