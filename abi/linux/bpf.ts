/**
 * eBPF's ABI (include/uapi/linux/bpf.h, bpf_common.h): bpf(2)'s commands, program and attach
 * types, flags, the layout of union bpf_attr for the commands the sentry implements, and the
 * instruction encoding.
 *
 * @module
 */

// bpf(2) commands (enum bpf_cmd).
export const BPF_MAP_CREATE = 0;
/** The last map type Linux 6.18 knows (BPF_MAP_TYPE_INSN_ARRAY). */
export const BPF_MAP_TYPE_MAX = 33;
export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_GET_NEXT_ID = 11;
export const BPF_PROG_GET_FD_BY_ID = 13;
export const BPF_OBJ_GET_INFO_BY_FD = 15;
export const BPF_PROG_QUERY = 16;
/** The last command Linux 6.18 knows (BPF_PROG_STREAM_READ_BY_FD); past it, EINVAL. */
export const BPF_CMD_MAX = 39;

// Program types (enum bpf_prog_type).
export const BPF_PROG_TYPE_SOCKET_FILTER = 1;
export const BPF_PROG_TYPE_CGROUP_SKB = 8;
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;

// Attach types (enum bpf_attach_type).
export const BPF_CGROUP_DEVICE = 6;
export const BPF_LSM_CGROUP = 43;
/** Attach types a cgroup takes (Linux's to_cgroup_bpf_attach_type): queries of them are answered. */
export const CGROUP_ATTACH_TYPES: ReadonlySet<number> = new Set([
  0, 1, 2, 3, 6, 8, 9, 10, 11, 12, 13, 14, 15, 18, 19, 20, 21, 22, 29, 30, 31, 32, 34, 43, 51, 52, 53, 54, 55,
]);
/** __MAX_BPF_ATTACH_TYPE in Linux 6.18: attach types at or past it are EINVAL. */
export const MAX_BPF_ATTACH_TYPE = 58;

// Attach flags.
export const BPF_F_ALLOW_OVERRIDE = 1 << 0;
export const BPF_F_ALLOW_MULTI = 1 << 1;
export const BPF_F_REPLACE = 1 << 2;
export const BPF_F_BEFORE = 1 << 3;
export const BPF_F_AFTER = 1 << 4;
export const BPF_F_ID = 1 << 5;
export const BPF_F_PREORDER = 1 << 6;
export const BPF_F_LINK = 1 << 13;
/** What BPF_PROG_ATTACH takes for a cgroup (BPF_F_ATTACH_MASK_BASE | BPF_F_ATTACH_MASK_MPROG). */
export const CGROUP_ATTACH_FLAGS = BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI | BPF_F_REPLACE | BPF_F_PREORDER |
  BPF_F_BEFORE | BPF_F_AFTER | BPF_F_ID | BPF_F_LINK;
export const BPF_F_QUERY_EFFECTIVE = 1 << 0;

/** BPF_PROG_LOAD's prog_flags that Linux knows (BPF_F_STRICT_ALIGNMENT ... BPF_F_TOKEN_FD). */
export const BPF_PROG_LOAD_FLAGS = 0x1 | 0x2 | 0x8 | 0x4 | 0x10 | 0x20 | 0x40 | 0x80 | 0x10000;
export const BPF_F_TOKEN_FD = 1 << 16;

/** sizeof(union bpf_attr) as the sentry knows it (BPF_PROG_LOAD's, the largest). */
export const BPF_ATTR_SIZE = 168;
/** bpf_check_uarg_tail_zero: a larger attr than a page is E2BIG outright. */
export const BPF_ATTR_MAX = 4096;
/** BPF_OBJ_NAME_LEN. */
export const BPF_OBJ_NAME_LEN = 16;
/** BPF_COMPLEXITY_LIMIT_INSNS: the most instructions a privileged program has, and processes. */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;
/** BPF_CGROUP_MAX_PROGS: programs of one attach type on one cgroup. */
export const BPF_CGROUP_MAX_PROGS = 64;
/** MAX_BPF_STACK: bytes of stack below R10. */
export const MAX_BPF_STACK = 512;
/** BPF_LOG_MASK (LEVEL1 | LEVEL2 | STATS | FIXED) and BPF_LOG_FIXED. */
export const BPF_LOG_MASK = 0xf;
export const BPF_LOG_FIXED = 8;

/**
 * Offsets in union bpf_attr: each command's fields, and where its last field ends (Linux's
 * CHECK_ATTR: every byte past it must be zero).
 */
export const PROG_LOAD = {
  prog_type: 0, insn_cnt: 4, insns: 8, license: 16, log_level: 24, log_size: 28, log_buf: 32,
  kern_version: 40, prog_flags: 44, prog_name: 48, prog_ifindex: 64, expected_attach_type: 68,
  prog_btf_fd: 72, func_info_rec_size: 76, func_info: 80, func_info_cnt: 88, line_info_rec_size: 92,
  line_info: 96, line_info_cnt: 104, attach_btf_id: 108, attach_prog_fd: 112, core_relo_cnt: 116,
  fd_array: 120, core_relos: 128, core_relo_rec_size: 136, log_true_size: 140, prog_token_fd: 144,
  fd_array_cnt: 148, signature: 152, signature_size: 160, keyring_id: 164, end: 168,
} as const;
export const PROG_ATTACH = {
  target_fd: 0, attach_bpf_fd: 4, attach_type: 8, attach_flags: 12, replace_bpf_fd: 16, relative_fd: 20,
  expected_revision: 24, end: 32,
} as const;
export const PROG_QUERY = {
  target_fd: 0, attach_type: 4, query_flags: 8, attach_flags: 12, prog_ids: 16, prog_cnt: 24,
  prog_attach_flags: 32, link_ids: 40, link_attach_flags: 48, revision: 56, end: 64,
} as const;
/** BPF_PROG_GET_NEXT_ID / BPF_PROG_GET_FD_BY_ID: start_id/prog_id, next_id, open_flags. */
export const GET_ID = { id: 0, next_id: 4, open_flags: 8, fd_by_id_token_fd: 12, end: 16 } as const;
/** BPF_OBJ_GET_NEXT_ID_LAST_FIELD is next_id. */
export const GET_NEXT_ID_END = 8;
export const INFO_BY_FD = { bpf_fd: 0, info_len: 4, info: 8, end: 16 } as const;

/** struct bpf_prog_info's fields the sentry fills, and its size in Linux 6.18. */
export const PROG_INFO = {
  type: 0, id: 4, tag: 8, jited_prog_len: 16, xlated_prog_len: 20, jited_prog_insns: 24,
  xlated_prog_insns: 32, load_time: 40, created_by_uid: 48, nr_map_ids: 52, map_ids: 56, name: 64,
  ifindex: 80, gpl_compatible: 84, run_time_ns: 192, run_cnt: 200, verified_insns: 216, size: 232,
} as const;

// Instruction encoding (struct bpf_insn: code u8, dst_reg:4 src_reg:4, off s16, imm s32).
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

export const BPF_K = 0x00;
export const BPF_X = 0x08;

export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

/** BPF_TO_LE / BPF_TO_BE (the source bit of BPF_END). */
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

/** ld_imm64's src_reg values that name a map (BPF_PSEUDO_MAP_FD, _VALUE, _IDX, _IDX_VALUE). */
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
/** A call's src_reg for a bpf-to-bpf call. */
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** struct bpf_cgroup_dev_ctx: access_type (type | access << 16), major, minor: 12 bytes. */
export const DEV_CTX_SIZE = 12;
export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;
