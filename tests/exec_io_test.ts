/**
 * End-to-end tests of `exec`'s input and output, as root: like `run`'s
 * (tests/io_test.ts), the exec'd command gets pipes skiff relays or a
 * pseudo-terminal of the container's own devpts, never a descriptor of
 * the caller's files or terminal.
 */

import assert from "node:assert/strict";
import {
  quote,
  ROOT_ONLY,
  skiff,
  skiffArgv,
  skiffFunction,
  skiffOk,
  underScript,
  withStore,
} from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

const text = new TextDecoder();

/** Runs `fn` with a detached container named "c" in a fresh store, removed afterwards. */
function withContainer(fn: (store: string) => Promise<void>) {
  return withStore(async (store) => {
    await skiffOk(store, ["run", "-d", "--name", "c", "busybox", "sleep", "1000"]);
    try {
      await fn(store);
    } finally {
      await skiff(store, ["rm", "-f", "c"]);
    }
  });
}

test("exec >> file gives the command a pipe: it can neither read nor chmod the caller's file", async () => {
  await withContainer(async (store) => {
    const log = await Deno.makeTempFile({ prefix: "skiff-exec-io-" });
    try {
      await Deno.writeTextFile(log, "earlier secret\n");
      await Deno.chmod(log, 0o640);
      await Deno.chown(log, 4321, 4321);
      const script = [
        'link=$(readlink /proc/$$/fd/1); echo "link=$link"',
        // reading a pipe's other end would block: only a file is read back
        'case "$link" in pipe:*) ;; *) cat /proc/$$/fd/1 >&2 ;; esac',
        "chmod 4777 /proc/self/fd/1; chown 0:0 /proc/self/fd/1; exit 3",
      ].join("\n");
      const argv = [Deno.execPath(), ...skiffArgv(store, ["exec", "c", "sh", "-c", script])];
      const r = await new Deno.Command("sh", {
        args: ["-c", 'f=$1; shift; exec "$@" >> "$f"', "sh", log, ...argv],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = text.decode(r.stderr);
      assert.equal(r.code, 3, `the exit code passes through: ${stderr}`);
      const contents = await Deno.readTextFile(log);
      assert.match(
        contents,
        /^earlier secret\nlink=pipe:\[\d+\]\n$/,
        "the output was appended through a pipe",
      );
      assert.doesNotMatch(stderr, /earlier secret/, "the file's earlier contents were not readable");
      const info = await Deno.stat(log);
      assert.equal(info.mode! & 0o7777, 0o640, "the mode is unchanged");
      assert.equal(info.uid, 4321, "the owner is unchanged");
      assert.equal(info.gid, 4321);
    } finally {
      await Deno.remove(log);
    }
  });
});

test("exec from a terminal without -t relays it through a pipe, and the command cannot open it", async () => {
  await withContainer(async (store) => {
    const inside = [
      "readlink /proc/self/fd/0",
      "readlink /proc/self/fd/1",
      "readlink /proc/self/fd/2",
      // /dev/tty is the controlling terminal: the caller's, were the command in its session
      "if (exec 3< /dev/tty) 2> /dev/null; then echo tty-opened; else echo no-tty; fi",
      "exit 4",
    ].join("; ");
    const r = await underScript(store, `skiff exec c sh -c ${quote(inside)}`);
    assert.equal(r.code, 4, r.out);
    const [stdin, stdout, stderr, tty] = r.out.trim().split("\n");
    assert.match(stdin, /^pipe:\[\d+\]$/, r.out);
    assert.match(stdout, /^pipe:\[\d+\]$/);
    assert.match(stderr, /^pipe:\[\d+\]$/);
    assert.equal(tty, "no-tty", "no controlling terminal: the caller's is out of reach");
  });
});

test("exec -it gives the command a terminal of the container's devpts, sized as the caller's", async () => {
  await withContainer(async (store) => {
    const hostPts = (await Deno.stat("/dev/pts")).dev;
    const inside = [
      "readlink /proc/self/fd/0",
      "stat -L -c %t:%d /proc/self/fd/0",
      "stat -c %d /dev/pts",
      "stty size",
      "tty",
      "ls /proc/self/fd | tr '\\n' ' '; echo",
      "exit 5",
    ].join("; ");
    const r = await underScript(
      store,
      `stty rows 33 cols 111; before=$(stty -g); skiff exec -it c sh -c ${quote(inside)}; code=$?; ` +
        `[ "$(stty -g)" = "$before" ] && echo restored; exit $code`,
    );
    assert.equal(r.code, 5, r.out);
    const [link, fdDev, ptsDev, size, tty, fds, restored] = r.out.trim().split("\n");
    assert.match(link, /^\/dev\/pts\/\d+$/, r.out);
    const [major, dev] = fdDev.split(":");
    assert.equal(major, "88", "a pts: major 136 (0x88)");
    assert.equal(dev, ptsDev, "stdin is a pts of the container's devpts");
    assert.notEqual(Number(dev), hostPts, "not of the host's");
    assert.equal(size, "33 111", "the caller's window size");
    assert.equal(tty, link, "the controlling terminal is that pts");
    assert.equal(fds.trim(), "0 1 2 3", "stdio and ls's own directory: no other descriptor");
    assert.equal(restored, "restored", "the caller's terminal is restored afterwards");
    const left = await new Deno.Command("find", { args: [store, "-name", "exec-*"], stdout: "piped" })
      .output();
    assert.equal(text.decode(left.stdout), "", "the sync FIFO is removed");
    const noTty = await skiff(store, ["exec", "-t", "c", "true"]);
    assert.equal(noTty.code, 125);
    assert.equal(noTty.stderr, "skiff: The input device is not a TTY: drop -t, or run from a terminal\n");
  });
});

test("Ctrl-C on the caller's terminal still reaches the exec'd command, with and without -t", async () => {
  await withContainer(async (store) => {
    const inside = `trap 'echo got-int; exit 3' INT; echo ready; while :; do sleep 0.1; done`;
    for (const flags of ["", "-it"]) {
      // The outer shell survives the ^C (a caught signal is reset for its children).
      const child = new Deno.Command("script", {
        args: [
          "-qec",
          `${skiffFunction(store)}; trap : INT; skiff exec ${flags} c sh -c ${quote(inside)}; echo code=$?`,
          "/dev/null",
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const keys = child.stdin.getWriter();
      let out = "";
      try {
        const reader = child.stdout.getReader();
        let sent = false;
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          out += text.decode(r.value).replaceAll("\r", "");
          if (!sent && out.includes("ready\n")) {
            sent = true;
            await keys.write(new Uint8Array([0x03])); // ^C, typed on the terminal
          }
        }
        const status = await child.status;
        assert.equal(status.code, 0, `${flags}: ${out}`);
        assert.match(
          out,
          /got-int\ncode=3\n$/,
          `${flags}: the command's trap ran and its code passed through`,
        );
      } finally {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
        await child.status;
        await child.stderr.cancel().catch(() => {});
        await keys.close().catch(() => {});
      }
    }
  });
});
