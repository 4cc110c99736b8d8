import assert from "node:assert/strict";
import { EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, keeperAlive, resolveCommand } from "./init.ts";

function fakeStat(files: Record<string, number | "dir">) {
  return (path: string): Deno.FileInfo | null => {
    const f = files[path];
    if (f === undefined) return null;
    return { isFile: f !== "dir", isDirectory: f === "dir", mode: f === "dir" ? 0o755 : f } as Deno.FileInfo;
  };
}

Deno.test("a bare command is searched along the container's PATH", () => {
  const stat = fakeStat({ "/usr/bin/ls": 0o644, "/bin/ls": 0o755 });
  assert.equal(resolveCommand("ls", ["PATH=/usr/bin:/bin"], stat), "/bin/ls");
  assert.equal(resolveCommand("ls", [], stat), "/bin/ls", "a default PATH applies");
});

Deno.test("a missing command fails with 127 and a non-executable one with 126, as docker", () => {
  const stat = fakeStat({ "/etc/passwd": 0o644, "/bin": "dir" });
  assert.throws(
    () => resolveCommand("nosuch", ["PATH=/bin"], stat),
    (e: Error & { exitCode: number }) =>
      e.exitCode === EXIT_NOT_FOUND && e.message === 'exec: "nosuch": executable file not found in $PATH',
  );
  assert.throws(
    () => resolveCommand("/etc/passwd", [], stat),
    (e: Error & { exitCode: number }) =>
      e.exitCode === EXIT_CANNOT_EXECUTE && /permission denied/.test(e.message),
  );
  assert.throws(() => resolveCommand("/bin", [], stat), /permission denied/);
  assert.throws(() => resolveCommand("/nope", [], stat), /no such file or directory/);
});

Deno.test("init runs on only while the keeper that forked it, and the keeper's skiff, live", () => {
  const proc = (files: Record<string, string>) => (path: string) => {
    if (!(path in files)) throw new Error(`ENOENT ${path}`);
    return files[path];
  };
  const self = { "/proc/self/stat": "4242 (deno init) S 4240 4242 1 0 -1 4194560" };
  const keeper = (parent: number) => ({
    "/proc/4240/comm": "timeout\n",
    "/proc/4240/stat": `4240 (timeout) S ${parent} 4240 1 0 -1 4194560`,
  });
  assert.equal(keeperAlive(4000, proc({ ...self, ...keeper(4000) })), true);
  assert.equal(
    keeperAlive(undefined, proc({ ...self, ...keeper(1) })),
    true,
    "no parent to check (detached)",
  );
  assert.equal(
    keeperAlive(4000, proc({ ...self, ...keeper(1) })),
    false,
    "skiff died: the keeper was adopted",
  );
  assert.equal(
    keeperAlive(4000, proc({ ...self, "/proc/4240/comm": "systemd\n" })),
    false,
    "we were adopted",
  );
  assert.equal(keeperAlive(4000, proc(self)), false, "the keeper is gone");
});
