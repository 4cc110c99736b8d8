import assert from "node:assert/strict";
import { EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, resolveCommand } from "./init.ts";

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
