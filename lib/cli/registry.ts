/**
 * The registry verbs: pull, push, login, logout and tag. The registry
 * code (and the `node:` modules it uses) is imported only when one of
 * them runs, so it costs nothing on the path of other verbs.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { HELP, type Verb } from "./verb.ts";
import type { OptionSpec, Parsed } from "./args.ts";
import { later } from "../host/later.ts";

const TLS_VERIFY: OptionSpec = {
  long: "tls-verify",
  kind: "value",
  arg: "true|false",
  help: "false: reach the registry over plain HTTP (loopback registries always are)",
};
const AUTHFILE: OptionSpec = {
  long: "authfile",
  kind: "value",
  arg: "FILE",
  help: "Credentials file (default: $REGISTRY_AUTH_FILE, else containers-auth.json(5)'s)",
};

/** `--tls-verify`'s value: true unless `false`. */
function tlsVerify(o: Parsed["options"]): boolean {
  const v = o["tls-verify"];
  if (v === undefined || v === "true") return true;
  if (v === "false") return false;
  throw new UsageError(`Invalid --tls-verify "${v}": use --tls-verify=true or --tls-verify=false`);
}

const pull: Verb = {
  usage: "pull [OPTIONS] NAME[:TAG|@DIGEST]",
  summary: "Pull an image from a registry",
  args: { min: 1, max: 1 },
  options: [
    {
      long: "platform",
      kind: "value",
      arg: "OS/ARCH[/VARIANT]",
      help: "The platform to pull from an index (default: the host's)",
    },
    TLS_VERIFY,
    AUTHFILE,
    { long: "quiet", short: "q", kind: "flag", help: "Print only the image id" },
    HELP,
  ],
  async action(store, { options: o, positionals: [name] }) {
    const { pullImage } = await later<typeof import("../image/registry/pull.ts")>(
      "../image/registry/pull.ts",
      import.meta.url,
    );
    const image = await pullImage(store, name, {
      platform: o.platform as string | undefined,
      tlsVerify: tlsVerify(o),
      authfile: o.authfile as string | undefined,
      quiet: Boolean(o.quiet),
    });
    console.log(image.id);
    return 0;
  },
};

const push: Verb = {
  usage: "push [OPTIONS] IMAGE [DESTINATION]",
  summary: "Push an image to a registry (to where its name says, or DESTINATION)",
  args: { min: 1, max: 2 },
  options: [
    { long: "format", kind: "value", arg: "oci|docker", help: "The manifest format (default: oci)" },
    TLS_VERIFY,
    AUTHFILE,
    { long: "quiet", short: "q", kind: "flag", help: "Print nothing but the digest" },
    HELP,
  ],
  async action(store, { options: o, positionals: [source, destination] }) {
    const format = (o.format as string | undefined) ?? "oci";
    if (format !== "oci" && format !== "docker") {
      throw new UsageError(`Unknown format "${format}": use --format oci or --format docker`);
    }
    const { pushImage } = await later<typeof import("../image/registry/push.ts")>(
      "../image/registry/push.ts",
      import.meta.url,
    );
    const digest = await pushImage(store, source, destination, {
      format,
      tlsVerify: tlsVerify(o),
      authfile: o.authfile as string | undefined,
      quiet: Boolean(o.quiet),
    });
    console.log(digest);
    return 0;
  },
};

/** Reads a password from stdin to EOF, dropping one trailing newline. */
async function readStdin(): Promise<string> {
  return (await new Response(Deno.stdin.readable).text()).replace(/\r?\n$/, "");
}

const login: Verb = {
  usage: "login [OPTIONS] REGISTRY",
  summary: "Check and store credentials for a registry",
  args: { min: 1, max: 1 },
  options: [
    { long: "username", short: "u", kind: "value", arg: "USER", help: "The user name" },
    {
      long: "password",
      short: "p",
      kind: "value",
      arg: "PASS",
      help: "The password (visible to ps: prefer --password-stdin)",
    },
    { long: "password-stdin", kind: "flag", help: "Read the password from stdin" },
    TLS_VERIFY,
    AUTHFILE,
    HELP,
  ],
  async action(_store, { options: o, positionals: [registry] }) {
    const username = o.username as string | undefined;
    if (username === undefined || username === "") throw new UsageError('"skiff login" needs -u USER');
    if (o.password !== undefined && o["password-stdin"]) {
      throw new UsageError("Use either -p PASS or --password-stdin, not both");
    }
    const password = o["password-stdin"] ? await readStdin() : o.password as string | undefined;
    if (password === undefined) throw new UsageError('"skiff login" needs -p PASS or --password-stdin');
    const { login } = await later<typeof import("../image/registry/login.ts")>(
      "../image/registry/login.ts",
      import.meta.url,
    );
    await login(registry, { username, password }, {
      authfile: o.authfile as string | undefined,
      tlsVerify: tlsVerify(o),
    });
    console.log("Login Succeeded!");
    return 0;
  },
};

const logout: Verb = {
  usage: "logout [OPTIONS] REGISTRY",
  summary: "Remove the stored credentials of a registry",
  args: { min: 1, max: 1 },
  options: [AUTHFILE, HELP],
  async action(_store, { options: o, positionals: [registry] }) {
    const { logout } = await later<typeof import("../image/registry/login.ts")>(
      "../image/registry/login.ts",
      import.meta.url,
    );
    logout(registry, { authfile: o.authfile as string | undefined });
    console.log(`Removed login credentials for ${registry}`);
    return 0;
  },
};

const tag: Verb = {
  usage: "tag SOURCE TARGET",
  summary: "Give an image another name",
  args: { min: 2, max: 2 },
  options: [HELP],
  async action(store, { positionals: [source, target] }) {
    const { tagImage } = await later<typeof import("../image/registry/tag.ts")>(
      "../image/registry/tag.ts",
      import.meta.url,
    );
    await tagImage(store, source, target);
    return 0;
  },
};

/** The registry verbs, in the order help lists them. */
export const REGISTRY_VERBS: Record<string, Verb> = { pull, push, login, logout, tag };
