/** getrandom(2), from the sentry's CSPRNG. */

import { EINVAL } from "../../errno.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const GRND_NONBLOCK = 1, GRND_RANDOM = 2, GRND_INSECURE = 4;

/** Implements getrandom(2). Large requests are cut to 32 MiB, as Linux does. */
const sysGetrandom: SyscallFn = (t, a) => {
  const addr = a.pointer(0), flags = a.uint(2);
  let len = Math.min(a.sizeT(1), 32 << 20);
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) throw EINVAL;
  if ((flags & GRND_RANDOM) && (flags & GRND_INSECURE)) throw EINVAL;
  if (flags & GRND_RANDOM) len = Math.min(len, 512);
  const buf = new Uint8Array(Math.min(len, 1 << 20));
  let done = 0;
  while (done < len) {
    const n = Math.min(buf.length, len - done);
    const chunk = buf.subarray(0, n);
    for (let o = 0; o < n; o += 65536) crypto.getRandomValues(chunk.subarray(o, Math.min(n, o + 65536)));
    t.copyOut(addr + done, chunk);
    done += n;
  }
  return len;
};

export const table: Record<number, SyscallEntry> = {
  318: supported("getrandom", sysGetrandom),
};
