/**
 * A block device as a disk filesystem driver sees it (vfs/ext2/): bytes at offsets, nothing
 * about where they live. Loop devices (vfs/block/loop.ts) are the sandbox's only block devices:
 * their bytes are those of a sandbox file (tmpfs, the overlay), read and written through its
 * file description, never a host descriptor the application could reach.
 *
 * Synchronous, as every FileDescription operation is. Offsets and lengths are plain numbers
 * (bytes; sizes stay far below 2^53).
 *
 * @module
 */

/** What a driver needs of the device it is mounted from (Linux's struct block_device, in short). */
export interface BlockDevice {
  /** "loop0": /dev's name, without "/dev/". */
  readonly name: string;
  /** The device number (Linux's dev_t, major 7 for loop): st_dev of the files on it. */
  readonly dev: number;
  /** Size in bytes, a multiple of 512 (Linux counts sectors). May change between mounts. */
  readonly size: number;
  /** Logical block size in bytes (BLKSSZGET): 512 unless LOOP_SET_BLOCK_SIZE changed it. */
  readonly logicalBlockSize: number;
  /** True when writes are refused (LO_FLAGS_READ_ONLY, BLKROSET, a read-only backing file). */
  readonly readOnly: boolean;
  /**
   * `length` bytes from `offset` (both need not be aligned). Bytes past the end of the device
   * are not returned: the result is shorter (empty at or past the end). EIO when the backing
   * file fails.
   */
  read(offset: number, length: number): Uint8Array;
  /**
   * Writes `data` at `offset`. EROFS when `readOnly`; ENOSPC for bytes past the end of the
   * device (nothing is written then); EIO when the backing file fails.
   */
  write(offset: number, data: Uint8Array): void;
  /** Makes what was written durable in the backing file (fsync of it). */
  flush(): void;
}

/** What mount(2) hands a driver besides the device. */
export interface BlockMountOptions {
  /** The type asked for ("ext2", "ext3", "ext4"): one driver may serve several. */
  readonly type: string;
  /** MS_RDONLY (or a read-only device): the driver must write nothing, not even the superblock. */
  readonly readonly: boolean;
  /** mount(2)'s data string, "" when none ("errors=remount-ro,acl"...). */
  readonly data: string;
  /** MS_SILENT: no log line for a device without this filesystem. */
  readonly silent: boolean;
}
