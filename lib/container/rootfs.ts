/**
 * The container's root filesystem as a plan: which mounts, directories and
 * links to make, in which order. {@link planRootfs} is pure and decides;
 * {@link applyRootfs} carries a plan out through a {@link Sys}, the real one
 * in the container's init (`lib/sys.ts`) or a recording fake in tests.
 *
 * @module
 */

import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT } from "../../ffi/libc.ts";

/** One thing to do to the new root, in plan order. */
export type Step =
  | {
    op: "mount";
    source: string;
    target: string;
    fstype: string;
    flags: number;
    data?: string;
    /** Skip when the target does not exist (kernel-dependent /proc files). */
    optional?: boolean;
  }
  | {
    /** A volume: `source` on the host bound onto `target` inside the container. */
    op: "bind";
    root: string;
    source: string;
    /** Absolute inside the container; resolved within `root`, never on the host. */
    target: string;
    kind: "dir" | "file";
    readonly: boolean;
  }
  | {
    /**
     * Hides a kernel file or directory as runc does: a directory under an
     * empty read-only tmpfs, anything else under /dev/null. Skipped where
     * this kernel has no such entry.
     */
    op: "mask";
    path: string;
    /** The container's own null device, bound over a masked file. */
    nullDevice: string;
  }
  | {
    /** `--tmpfs`: a tmpfs on `target`, resolved within `root` as a bind's is. */
    op: "tmpfs";
    root: string;
    target: string;
    flags: number;
    data: string;
  }
  /**
   * `--read-only`: the root's own mount remounted read-only (with the
   * overlay's nodev kept); what is mounted in it keeps its own flags.
   */
  | { op: "readonly"; root: string }
  /** A device node made in the container's /dev: a character one, mode 0666, unless said. */
  | { op: "mknod"; path: string; major: number; minor: number; block?: boolean; mode?: number }
  | { op: "mkdir"; path: string; mode: number }
  | { op: "touch"; path: string }
  | { op: "symlink"; target: string; path: string };

/** What a plan is made from. Every path is a host path. */
export interface RootfsSpec {
  /** `--privileged`: /sys and /proc writable, nothing masked. */
  privileged?: boolean;
  /** Where the overlay is mounted: the container's future `/`. */
  root: string;
  /** The image's layer directories, topmost first. */
  lowerdirs: string[];
  /** The container's own writable layer and overlay's work dir. */
  upperdir: string;
  workdir: string;
  /** The terminal to show as /dev/console, when the container has one. */
  console?: string;
  /** Volumes to bind in. */
  binds?: BindSpec[];
  /** `--tmpfs` mounts, made after the volumes. */
  tmpfs?: TmpfsSpec[];
  /** `--read-only`: the root itself read-only, once everything is mounted in it. */
  readOnly?: boolean;
  /**
   * Overlay keeps its xattrs (opaque dirs) in `user.overlay.*`, as it must
   * when mounted in a user namespace (kernel 5.11): rootless.
   */
  userxattr?: boolean;
  /**
   * Bind the host's device nodes instead of making the container's own: in
   * a user namespace mknod is refused, and the host's nodes are safe to
   * bind there, as their owner is unmapped and the container's root cannot
   * chmod them. As root a bound node would be the host's own inode, which
   * the container's root (CAP_FOWNER) could chmod or chown for the host.
   */
  bindDevices?: boolean;
  /** `--device`s: made (or, with bindDevices, bound) in the container's /dev after its own nodes. */
  devices?: DeviceSpec[];
}

/** A device of the host's to give the container. */
export interface DeviceSpec {
  /** The host's node, bound when nodes can't be made. */
  host: string;
  /** Under /dev, inside the container. */
  path: string;
  block: boolean;
  major: number;
  minor: number;
  mode: number;
}

/** One volume: a host file or directory and where it goes in the container. */
export interface BindSpec {
  source: string;
  target: string;
  kind: "dir" | "file";
  readonly: boolean;
}

/** One `--tmpfs` (see lib/container/tmpfs.ts): where, its mount flags and options. */
export interface TmpfsSpec {
  target: string;
  flags: number;
  data: string;
}

/** An entry resolved inside the container root, held open until released. */
export interface Resolved {
  /** A path naming exactly that entry, e.g. /proc/self/fd/7. */
  path: string;
  release(): void;
}

/** The kinds of filesystem entry {@link Sys.lstat} tells apart. */
export type EntryKind = "dir" | "file" | "symlink" | "other";

/** The operations a plan needs: the privileged ones come from `ffi/`. */
export interface Sys {
  mount(
    source: string,
    target: string,
    fstype: string,
    flags: number,
    data: string,
  ): void;
  /** The kind of entry at `path` without following a last symlink, or null. */
  lstat(path: string): EntryKind | null;
  mkdir(path: string, mode: number): void;
  /** Creates an empty regular file. */
  touch(path: string): void;
  /** Makes a device node (a character one unless `block`), mode `mode` (0666) whatever the umask. */
  mknod(path: string, major: number, minor: number, block?: boolean, mode?: number): void;
  symlink(target: string, path: string): void;
  /**
   * Resolves `path`, absolute inside the container, within `root` as if
   * root were `/` (no symlink or `..` leads out), creating what is missing:
   * directories, and the last part as an empty file for `kind: "file"`.
   */
  resolveInRoot(root: string, path: string, kind: "dir" | "file"): Resolved;
  /** The mount flags (MS_*) of the filesystem holding `path`. */
  mountFlags(path: string): number;
}

/** The container's device nodes and their numbers (Documentation/admin-guide/devices.txt). */
const DEVICES: Record<string, [major: number, minor: number]> = {
  null: [1, 3],
  zero: [1, 5],
  full: [1, 7],
  random: [1, 8],
  urandom: [1, 9],
  tty: [5, 0],
};

/**
 * Kernel files and directories that leak host information or control the
 * host, hidden: the union of runc's, podman's (containers/common) and
 * docker's default masked paths.
 */
const MASKED = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/sys/dev/block",
  "/sys/devices/virtual/powercap",
  "/sys/firmware",
  "/sys/fs/selinux",
];

/** /proc entries that stay visible but read-only. */
const READ_ONLY = ["sys", "sysrq-trigger", "irq", "bus", "fs"];

/**
 * Plans the container's root: overlay, /proc, /sys, /dev and its devices.
 *
 * @param spec the layer and mount-point directories
 * @returns the steps, in the order they must run
 * @throws {Error} when a path cannot be given to overlay's option string
 */
export function planRootfs(spec: RootfsSpec): Step[] {
  for (const dir of [...spec.lowerdirs, spec.upperdir, spec.workdir]) {
    // overlay splits its options on "," and lowerdir on ":"
    if (/[,:]/.test(dir)) {
      throw new Error(
        `Cannot use "${dir}" as an overlay layer: its path has a "," or ":"; choose a store root without them`,
      );
    }
  }
  const r = spec.root;
  const hardened = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  const steps: Step[] = [
    {
      op: "mount",
      source: "overlay",
      target: r,
      fstype: "overlay",
      // nodev, as containers/storage mounts podman's: a device node an
      // image ships (c 1 11, the host's /dev/kmsg) must not open. The
      // container's devices come from its own /dev, bound from the host's.
      flags: MS_NODEV,
      data: `lowerdir=${spec.lowerdirs.join(":")},upperdir=${spec.upperdir},workdir=${spec.workdir}${
        spec.userxattr ? ",userxattr" : ""
      }`,
    },
    { op: "mkdir", path: `${r}/proc`, mode: 0o555 },
    { op: "mount", source: "proc", target: `${r}/proc`, fstype: "proc", flags: hardened },
    { op: "mkdir", path: `${r}/sys`, mode: 0o555 },
    {
      op: "mount",
      source: "sysfs",
      target: `${r}/sys`,
      fstype: "sysfs",
      flags: spec.privileged ? hardened : hardened | MS_RDONLY,
    },
    { op: "mkdir", path: `${r}/dev`, mode: 0o755 },
    {
      op: "mount",
      source: "tmpfs",
      target: `${r}/dev`,
      fstype: "tmpfs",
      flags: MS_NOSUID | MS_NOEXEC,
      data: "mode=755,size=65536k",
    },
  ];
  for (const [dev, [major, minor]] of Object.entries(DEVICES)) {
    if (spec.bindDevices) steps.push(...bindFile(`/dev/${dev}`, `${r}/dev/${dev}`));
    else steps.push({ op: "mknod", path: `${r}/dev/${dev}`, major, minor });
  }
  if (spec.console) steps.push(...bindFile(spec.console, `${r}/dev/console`));
  steps.push(
    { op: "mkdir", path: `${r}/dev/pts`, mode: 0o755 },
    {
      op: "mount",
      source: "devpts",
      target: `${r}/dev/pts`,
      fstype: "devpts",
      flags: MS_NOSUID | MS_NOEXEC,
      data: "newinstance,ptmxmode=0666,mode=0620",
    },
    { op: "symlink", target: "pts/ptmx", path: `${r}/dev/ptmx` },
    { op: "mkdir", path: `${r}/dev/shm`, mode: 0o1777 },
    {
      op: "mount",
      source: "shm",
      target: `${r}/dev/shm`,
      fstype: "tmpfs",
      flags: hardened,
      data: "mode=1777,size=65536k",
    },
    { op: "symlink", target: "/proc/self/fd", path: `${r}/dev/fd` },
    { op: "symlink", target: "/proc/self/fd/0", path: `${r}/dev/stdin` },
    { op: "symlink", target: "/proc/self/fd/1", path: `${r}/dev/stdout` },
    { op: "symlink", target: "/proc/self/fd/2", path: `${r}/dev/stderr` },
  );
  for (const d of spec.devices ?? []) steps.push(...deviceSteps(r, d, spec.bindDevices));
  // Parents before children, so /data/sub lands on the /data volume.
  const binds = [...(spec.binds ?? [])].sort((a, b) => depth(a.target) - depth(b.target));
  for (const bind of binds) steps.push({ op: "bind", root: r, ...bind });
  for (const t of spec.tmpfs ?? []) steps.push({ op: "tmpfs", root: r, ...t });
  if (spec.readOnly) steps.push({ op: "readonly", root: r });
  if (spec.privileged) return steps;
  for (const path of MASKED) steps.push({ op: "mask", path: `${r}${path}`, nullDevice: `${r}/dev/null` });
  for (const name of READ_ONLY) {
    const target = `${r}/proc/${name}`;
    steps.push(
      { op: "mount", source: target, target, fstype: "", flags: MS_BIND | MS_REC, optional: true },
      {
        op: "mount",
        source: target,
        target,
        fstype: "",
        flags: MS_BIND | MS_REMOUNT | MS_RDONLY | hardened,
        optional: true,
      },
    );
  }
  return steps;
}

/** A `--device` under the container's /dev: its parents made, then the node (or the host's bound). */
function deviceSteps(r: string, d: DeviceSpec, bind?: boolean): Step[] {
  const parts = d.path.split("/").filter((p) => p !== "").slice(1, -1); // under /dev, without the node
  const parents = parts.map((_, i): Step => ({
    op: "mkdir",
    path: `${r}/dev/${parts.slice(0, i + 1).join("/")}`,
    mode: 0o755,
  }));
  const target = `${r}${d.path}`;
  if (bind) return [...parents, ...bindFile(d.host, target)];
  const { major, minor, mode } = d;
  return [...parents, { op: "mknod", path: target, major, minor, mode, ...(d.block ? { block: true } : {}) }];
}

function depth(path: string): number {
  return path.split("/").filter((p) => p !== "").length;
}

function bindFile(source: string, target: string): Step[] {
  return [
    { op: "touch", path: target },
    { op: "mount", source, target, fstype: "", flags: MS_BIND },
  ];
}

/**
 * Carries out a plan. Mount targets and created entries must not be
 * symlinks: mount(2) follows them, and an image could point one anywhere.
 *
 * @param steps the plan from {@link planRootfs}
 * @param sys the operations to use
 * @throws {Error} naming the step that failed, with the cause kept
 */
export function applyRootfs(steps: Step[], sys: Sys): void {
  for (const step of steps) {
    switch (step.op) {
      case "mount": {
        // A mount over the overlay root itself is made before anything is
        // in it; every other target must be a real entry.
        if (step.fstype !== "overlay") {
          const kind = sys.lstat(step.target);
          if (kind === null && step.optional) break;
          refuseSymlink(step.target, kind);
        }
        sys.mount(step.source, step.target, step.fstype, step.flags, step.data ?? "");
        break;
      }
      case "bind":
        try {
          bind(step, sys);
        } catch (e) {
          throw new Error(`Cannot mount "${step.source}" on "${step.target}"`, { cause: e });
        }
        break;
      case "tmpfs": {
        const target = sys.resolveInRoot(step.root, step.target, "dir");
        try {
          sys.mount("tmpfs", target.path, "tmpfs", step.flags, step.data);
        } catch (e) {
          throw new Error(`Cannot mount a tmpfs on "${step.target}"`, { cause: e });
        } finally {
          target.release();
        }
        break;
      }
      case "readonly":
        sys.mount(step.root, step.root, "", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV, "");
        break;
      case "mask":
        mask(step.path, step.nullDevice, sys);
        break;
      case "mknod":
        refuseSymlink(step.path, sys.lstat(step.path));
        if (step.block || step.mode !== undefined) {
          sys.mknod(step.path, step.major, step.minor, step.block ?? false, step.mode ?? 0o666);
        } else sys.mknod(step.path, step.major, step.minor);
        break;
      case "mkdir": {
        const kind = sys.lstat(step.path);
        if (kind === null) sys.mkdir(step.path, step.mode);
        else if (kind !== "dir") {
          throw new Error(`Cannot prepare "${step.path}": the image has a ${kind} there, not a directory`);
        }
        break;
      }
      case "touch": {
        const kind = sys.lstat(step.path);
        if (kind === null) sys.touch(step.path);
        else refuseSymlink(step.path, kind);
        break;
      }
      case "symlink":
        if (sys.lstat(step.path) === null) sys.symlink(step.target, step.path);
        break;
    }
  }
}

/**
 * Binds a volume. The target is resolved in the container root and mounted
 * through its descriptor, so a symlink in the image (or one swapped in by
 * another container sharing a volume) cannot redirect the mount to the
 * host: the class of runc's CVE-2021-30465.
 */
function bind(step: Extract<Step, { op: "bind" }>, sys: Sys): void {
  const target = sys.resolveInRoot(step.root, step.target, step.kind);
  try {
    sys.mount(step.source, target.path, "", MS_BIND | MS_REC, "");
  } finally {
    target.release();
  }
  if (!step.readonly) return;
  // A bind ignores MS_RDONLY: it takes a remount, on the new mount itself,
  // which a fresh resolution reaches (the old handle names what it covers).
  // The remount must keep the flags the source filesystem has.
  const kept = sys.mountFlags(step.source) & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
  const mounted = sys.resolveInRoot(step.root, step.target, step.kind);
  try {
    sys.mount(step.source, mounted.path, "", MS_BIND | MS_REMOUNT | MS_RDONLY | kept, "");
  } finally {
    mounted.release();
  }
}

/** runc's maskPath: an empty read-only tmpfs over a directory, /dev/null over anything else. */
function mask(path: string, nullDevice: string, sys: Sys): void {
  const kind = sys.lstat(path);
  if (kind === null) return;
  refuseSymlink(path, kind);
  if (kind === "dir") {
    sys.mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
  } else {
    sys.mount(nullDevice, path, "", MS_BIND, "");
  }
}

function refuseSymlink(path: string, kind: EntryKind | null): void {
  if (kind === "symlink") {
    throw new Error(`Cannot mount on "${path}": it is a symlink, which mount would follow`);
  }
}
