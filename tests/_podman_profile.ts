/** podman's processing of its default seccomp profile, for the tests that run it without podman. */

/** podman's default capabilities (containers.conf), which the profile's includes/excludes test. */
export const PODMAN_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"];

/**
 * podman's own step before the runtime: the entries whose includes hold (arches amd64, caps among
 * its defaults) and whose excludes do not, with those keys removed, as config.json carries it.
 */
export function resolvePodmanProfile(p: Record<string, unknown>): Record<string, unknown> {
  type Entry = { includes?: { arches?: string[]; caps?: string[] }; excludes?: { arches?: string[]; caps?: string[] } };
  const has = (f: { arches?: string[]; caps?: string[] } | undefined, empty: boolean) => {
    if (f === undefined || ((f.arches ?? []).length === 0 && (f.caps ?? []).length === 0)) return empty;
    const arch = (f.arches ?? []).length === 0 || f.arches!.includes("amd64");
    const caps = (f.caps ?? []).every((c) => PODMAN_CAPS.includes(c));
    return arch && caps;
  };
  const syscalls = (p.syscalls as Entry[]).filter((e) => has(e.includes, true) && !(e.excludes && has(e.excludes, false)))
    .map(({ includes: _i, excludes: _e, ...rest }) => rest);
  return { defaultAction: p.defaultAction, defaultErrnoRet: p.defaultErrnoRet, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], syscalls };
}
