/**
 * Signal dispositions and masks. This is the state part only: delivery with signal frames,
 * sigreturn and job control come with the processes-and-signals issue. What exists now:
 * dispositions recorded by rt_sigaction, per-task masks, and default actions for fatal
 * signals (faults, kill from outside).
 *
 * @module
 */

import { SIG_DFL } from "../abi/linux/signal.ts";

/** One signal's disposition, as struct sigaction. @savable */
export interface SigAction {
  handler: bigint;
  flags: number;
  restorer: bigint;
  mask: bigint;
}

/** Dispositions of signals 1..64, shared by the threads of a group (CLONE_SIGHAND). @savable */
export class SignalHandlers {
  readonly actions: SigAction[] = [];

  constructor() {
    for (let i = 0; i <= 64; i++) this.actions.push({ handler: BigInt(SIG_DFL), flags: 0, restorer: 0n, mask: 0n });
  }

  get(sig: number): SigAction {
    return this.actions[sig]!;
  }

  set(sig: number, a: SigAction): void {
    this.actions[sig] = { ...a };
  }

  clone(): SignalHandlers {
    const h = new SignalHandlers();
    this.actions.forEach((a, i) => h.actions[i] = { ...a });
    return h;
  }

  /** For execve: handled signals go back to SIG_DFL, ignored ones stay ignored. */
  resetForExec(): void {
    for (const a of this.actions) {
      if (a.handler > 1n) {
        a.handler = BigInt(SIG_DFL);
        a.flags = 0;
        a.mask = 0n;
        a.restorer = 0n;
      }
    }
  }
}

/** Bit for signal sig in a 64-bit sigset. */
export function sigBit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}
