/**
 * Reading an argv by meaning, for unit tests of the pure functions that
 * build command lines: which programs wrap which, and each one's options,
 * wherever they sit.
 *
 * @module
 */

/** One program of a wrapper chain and the arguments before the next one. */
export interface Link {
  /** The program's base name, e.g. `unshare`. */
  program: string;
  /** Its arguments, without a trailing `--`. */
  args: string[];
}

/**
 * Splits `argv` (`setpriv --pdeathsig SIGKILL -- unshare --pid -- timeout 0 deno run x.ts`)
 * where one of `programs` starts, matched by base name.
 */
export function chainOf(argv: string[], programs: string[]): Link[] {
  const links: Link[] = [];
  for (const arg of argv) {
    const base = arg.slice(arg.lastIndexOf("/") + 1);
    if (programs.includes(base)) {
      links.push({ program: base, args: [] });
    } else if (links.length === 0) {
      throw new Error(`argv starts with "${arg}", not one of ${programs.join(", ")}`);
    } else {
      links.at(-1)!.args.push(arg);
    }
  }
  for (const link of links) if (link.args.at(-1) === "--") link.args.pop();
  return links;
}

/** The value of `--name VALUE` or `--name=VALUE` in `args`, or undefined. */
export function optionValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

/** The flags of `args` (what starts with `-`), `--name=VALUE` kept whole. */
export function flagsOf(args: string[]): string[] {
  return args.filter((a) => a.startsWith("-") && a !== "--");
}
