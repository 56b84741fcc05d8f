/**
 * Finding init's executable: the lookup lives in the kernel (kernel/loader/exec_path.ts), which
 * uses it for processes started in a running sandbox too; boot runs it against the root's host
 * directory before the kernel is loaded.
 *
 * @module
 */

export { type ExecLookup, type ExecStat, pathOf, resolveExecutable, type StatFn } from "../kernel/loader/exec_path.ts";
