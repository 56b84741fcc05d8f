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

/** SIG_DFL with no flags: the disposition every signal starts with. */
const DEFAULT_ACTION: Readonly<SigAction> = Object.freeze({ handler: BigInt(SIG_DFL), flags: 0, restorer: 0n, mask: 0n });

/**
 * Dispositions of signals 1..64, shared by the threads of a group (CLONE_SIGHAND). @savable
 *
 * Entries are never changed in place, only replaced (set, resetForExec), so a clone (every
 * vfork and execve makes one) copies 65 references rather than 65 objects.
 */
export class SignalHandlers {
  readonly actions: Readonly<SigAction>[];

  constructor(actions?: readonly Readonly<SigAction>[]) {
    this.actions = actions ? [...actions] : new Array<Readonly<SigAction>>(65).fill(DEFAULT_ACTION);
  }

  get(sig: number): Readonly<SigAction> {
    return this.actions[sig]!;
  }

  set(sig: number, a: SigAction): void {
    this.actions[sig] = { ...a };
  }

  clone(): SignalHandlers {
    return new SignalHandlers(this.actions);
  }

  /** For execve: handled signals go back to SIG_DFL, ignored ones stay ignored. */
  resetForExec(): void {
    for (let i = 0; i < this.actions.length; i++) {
      if (this.actions[i]!.handler > 1n) this.actions[i] = DEFAULT_ACTION;
    }
  }
}

/** Bit for signal sig in a 64-bit sigset. */
export function sigBit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}
