/**
 * Start-up marks, for finding where a start's time goes: with `SENTRY_MARKS=FILE` in the
 * environment, each mark() records the time since Deno's process started
 * (`performance.now()`), the CPU time of the whole process so far (`Deno.cpuUsage()`: every
 * thread, user and system) and that of the JavaScript thread (/proc/thread-self/schedstat), and
 * the sentry appends them to FILE as one JSON line when it exits (with `performance.timeOrigin`,
 * so that a caller can add the time before Deno ran). A CPU profile perturbs a start too much to
 * time its phases; these cost ~20 µs each, and nothing at all without the variable.
 *
 * The marks live on globalThis: boot/launch.ts, outside the bundle, and the bundle's modules
 * share them.
 *
 * @module
 */

interface Mark {
  label: string;
  /** ms since the process started */
  t: number;
  /** CPU ms of the process (every thread) */
  cpu: number;
  /** CPU ms of the JavaScript thread */
  js: number;
  /** ms the JavaScript thread was runnable but waited for a CPU */
  rq: number;
}

const KEY = Symbol.for("sentry.startupMarks");
type Store = { file: string; marks: Mark[] };

function store(): Store | null {
  const g = globalThis as unknown as Record<symbol, Store | null | undefined>;
  let s = g[KEY];
  if (s === undefined) {
    let file: string | undefined;
    try {
      file = Deno.env.get("SENTRY_MARKS");
    } catch { /* no env permission */ }
    s = g[KEY] = file ? { file, marks: [] } : null;
  }
  return s;
}

/** The JavaScript thread's CPU time and run-queue wait, ms. */
function threadSched(): [number, number] {
  try {
    const f = Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ");
    return [Number(f[0]) / 1e6, Number(f[1]) / 1e6];
  } catch {
    return [NaN, NaN];
  }
}

/** Every thread's name and CPU ms at exit. */
function threads(): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  try {
    for (const e of Deno.readDirSync("/proc/self/task")) {
      try {
        const comm = Deno.readTextFileSync(`/proc/self/task/${e.name}/comm`).trim();
        const cpu = Number(Deno.readTextFileSync(`/proc/self/task/${e.name}/schedstat`).split(" ")[0]) / 1e6;
        out.push([comm, Math.round(cpu * 100) / 100]);
      } catch { /* gone */ }
    }
  } catch { /* no /proc */ }
  return out;
}

/** Records a mark named label when SENTRY_MARKS is set. */
export function mark(label: string): void {
  const s = store();
  if (s === null) return;
  const t = performance.now();
  // Deno.cpuUsage (getrusage of the process) is there at run time but not in Deno's types.
  const u = (Deno as unknown as { cpuUsage?: () => { user: number; system: number } }).cpuUsage?.() ?? { user: NaN, system: NaN };
  const [js, rq] = threadSched();
  s.marks.push({ label, t, cpu: (u.user + u.system) / 1000, js, rq });
}

/** Appends the marks to SENTRY_MARKS's file; called right before the sentry exits. */
export function flushMarks(): void {
  const s = store();
  if (s === null) return;
  mark("exit");
  try {
    Deno.writeTextFileSync(s.file, JSON.stringify({ origin: performance.timeOrigin, pid: Deno.pid, marks: s.marks, threads: threads() }) + "\n", { append: true });
  } catch { /* only for measuring */ }
}
