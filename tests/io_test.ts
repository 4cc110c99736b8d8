/**
 * End-to-end tests of a container's process I/O and of how its init
 * reports the start, as root: the container gets pipes or a pseudo-terminal
 * of its own, never a descriptor of the caller's files or terminal.
 */

import assert from "node:assert/strict";
import { quote, ROOT_ONLY, skiff, skiffArgv, skiffOk, underScript, withStore } from "./helpers.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `[root] ${name}`, ...ROOT_ONLY, fn });

const text = new TextDecoder();

test("run >> file gives the container a FIFO of skiff's relay: it can neither read nor chmod the caller's file", async () => {
  await withStore(async (store) => {
    const log = await Deno.makeTempFile({ prefix: "skiff-io-" });
    try {
      await Deno.writeTextFile(log, "earlier secret\n");
      await Deno.chmod(log, 0o640);
      await Deno.chown(log, 4321, 4321);
      const script = [
        'link=$(readlink /proc/$$/fd/1); echo "link=$link"',
        // reading a pipe's other end would block: only a file is read back
        'case "$link" in pipe:* | */stdout.fifo) ;; *) cat /proc/$$/fd/1 >&2 ;; esac',
        "chmod 4777 /proc/self/fd/1; chown 0:0 /proc/self/fd/1; exit 0",
      ].join("\n");
      const argv = [Deno.execPath(), ...skiffArgv(store, ["run", "--rm", "busybox", "sh", "-c", script])];
      const r = await new Deno.Command("sh", {
        args: ["-c", 'f=$1; shift; exec "$@" >> "$f"', "sh", log, ...argv],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = text.decode(r.stderr);
      assert.equal(r.code, 0, stderr);
      const contents = await Deno.readTextFile(log);
      assert.match(
        contents,
        /^earlier secret\nlink=\S*\/stdout\.fifo\n$/,
        "the output was appended through the relay's FIFO",
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

test("stderr and stdout are relayed apart, and the exit code passes through", async () => {
  await withStore(async (store) => {
    const r = await skiff(store, [
      "run",
      "--rm",
      "busybox",
      "sh",
      "-c",
      "echo out; echo err >&2; stat -L -c %F /proc/self/fd/2; exit 6",
    ]);
    assert.equal(r.code, 6);
    // a FIFO of skiff's (in the container's runtime dir), relayed by its supervisor
    assert.match(r.stdout, /^out\nfifo\n$/);
    assert.equal(r.stderr, "err\n");
  });
});

test("-i relays stdin, and its EOF closes the container's stdin", async () => {
  await withStore(async (store) => {
    const out = await skiffOk(store, [
      "run",
      "--rm",
      "-i",
      "busybox",
      "sh",
      "-c",
      "stat -L -c %F /proc/self/fd/0; cat; echo after-eof",
    ], { stdin: "line one\nline two\n" });
    assert.match(out, /^fifo\nline one\nline two\nafter-eof\n$/);
  });
});

test("-t gives the container a terminal of its own devpts, sized as the caller's", async () => {
  await withStore(async (store) => {
    const hostPts = (await Deno.stat("/dev/pts")).dev;
    const inside = [
      "readlink /proc/self/fd/0",
      "stat -L -c %d /proc/self/fd/0",
      "stat -c %d /dev/pts",
      "stty size",
      "tty",
      "exit 5",
    ].join("; ");
    const r = await underScript(
      store,
      `stty rows 33 cols 111; before=$(stty -g); skiff run --rm -t busybox sh -c ${
        quote(inside)
      }; code=$?; ` +
        `[ "$(stty -g)" = "$before" ] && echo restored; exit $code`,
    );
    assert.equal(r.code, 5, r.out);
    const [link, fdDev, ptsDev, size, tty, restored] = r.out.trim().split("\n");
    assert.equal(link, "/dev/pts/0");
    assert.equal(fdDev, ptsDev, "stdin is a pts of the container's devpts");
    assert.notEqual(Number(fdDev), hostPts, "not of the host's");
    assert.equal(size, "33 111", "the caller's window size");
    assert.equal(tty, "/dev/pts/0");
    assert.equal(restored, "restored", "the caller's terminal is restored afterwards");
  });
});

test("-t passes a window size change on to the container", async () => {
  await withStore(async (store) => {
    const marker = `${31337}${Math.floor(Math.random() * 1e6)}`;
    const inside = `trap 'stty size; exit 7' WINCH; stty size; sleep ${marker} & wait`;
    // Once the container sleeps, resize the caller's terminal: its
    // foreground group, skiff among it, gets SIGWINCH.
    const resize = `(while ! pgrep -f '^sleep ${marker}$' > /dev/null; do sleep 0.05; done; ` +
      "stty -F /dev/tty rows 40) &";
    const r = await underScript(
      store,
      `stty rows 33 cols 111; ${resize} skiff run --rm -t busybox sh -c ${quote(inside)}`,
    );
    assert.equal(r.code, 7, r.out);
    assert.deepEqual(r.out.trim().split("\n"), ["33 111", "40 111"]);
  });
});

test("a command that is not there, or a bad workdir, is reported with its cause, in the foreground and -d", async () => {
  await withStore(async (store) => {
    for (const detach of [[], ["-d"]]) {
      const missing = await skiff(store, ["run", ...detach, "busybox", "nosuchcommand"]);
      assert.equal(missing.code, 127, `${detach}: ${missing.stderr}`);
      assert.equal(missing.stderr, 'skiff: exec: "nosuchcommand": executable file not found in $PATH\n');
      const workdir = await skiff(store, ["run", ...detach, "-w", "/etc/passwd/sub", "busybox", "true"]);
      assert.equal(workdir.code, 125, `${detach}: ${workdir.stderr}`);
      assert.equal(
        workdir.stderr,
        'skiff: Cannot make the working directory "/etc/passwd/sub": mkdirat "/etc/passwd/sub": ENOTDIR (Not a directory)\n',
      );
    }
    assert.equal(await skiffOk(store, ["ps", "-aq"]), "", "nothing is left of them");
  });
});

/** Starts `run -d` with init held before its command until the returned release() (see lib/container/init.ts). */
async function heldRun(store: string, args: string[]) {
  const fifo = `${store}/hold.fifo`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.equal(made.code, 0);
  const child = new Deno.Command(Deno.execPath(), {
    args: skiffArgv(store, ["run", "-d", ...args]),
    env: { SKIFF_TEST_HOLD_INIT: fifo },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Opening the FIFO's write end waits for init to open its read end; if
  // skiff fails first, open the read end here to end that wait.
  const opening = Deno.open(fifo, { write: true });
  const first = await Promise.race([opening.then(() => "held"), child.status.then(() => "exited")]);
  if (first === "exited") {
    (await Deno.open(fifo, { read: true })).close();
    (await opening).close();
    const out = await child.output();
    assert.fail(`run -d exited before init was held: ${text.decode(out.stderr)}`);
  }
  return { child, hold: await opening };
}

test("run -d waits for an init held before the command and returns once the command runs", async () => {
  await withStore(async (store) => {
    const { child, hold } = await heldRun(store, ["--name", "held", "busybox", "sleep", "300"]);
    try {
      const early = await Promise.race([child.status.then(() => "returned"), Promise.resolve("waiting")]);
      assert.equal(early, "waiting", "run -d does not return while init is held");
      hold.close();
      const out = await child.output();
      assert.equal(out.code, 0, text.decode(out.stderr));
      assert.match(text.decode(out.stdout), /^[0-9a-f]{64}\n$/);
      assert.match(await skiffOk(store, ["ps"]), /\sUp .+held\n/);
    } finally {
      try {
        hold.close();
      } catch { /* closed */ }
      await skiff(store, ["rm", "-f", "held"]);
    }
  });
});

test("run -d sees at once an init that dies before the command, and leaves nothing", async () => {
  await withStore(async (store) => {
    const { child, hold } = await heldRun(store, ["busybox", "sleep", "300"]);
    try {
      // init is the holder of the FIFO's read end: kill it by its pid, found by that.
      const init = await new Deno.Command("sh", {
        args: [
          "-c",
          `for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null | grep -q '${store}/hold.fifo' && echo \${p#/proc/}; done`,
        ],
        stdout: "piped",
      }).output();
      const pids = text.decode(init.stdout).trim().split("\n").map(Number).filter((p) => p !== Deno.pid);
      assert.equal(pids.length, 1, `one init holds the FIFO: ${pids}`);
      Deno.kill(pids[0], "SIGKILL");
      const out = await child.output();
      assert.equal(out.code, 125);
      assert.match(
        text.decode(out.stderr),
        /^skiff: Cannot start the container: its init exited before reaching the command/,
      );
      assert.equal(await skiffOk(store, ["ps", "-aq"]), "");
    } finally {
      hold.close();
    }
  });
});

test("a run started in the background of a terminal leaves the terminal's input alone", async () => {
  await withStore(async (store) => {
    // With job control (set -m) the job gets a process group of its own,
    // not the terminal's foreground one, and keeps the terminal as stdin.
    const r = await underScript(
      store,
      "set -m; skiff run --rm busybox echo from-the-background & wait $!; echo rc=$?",
    );
    // (the shell's own job notices, "[1]+ Done", aside)
    const lines = r.out.trim().split("\n").filter((l) => !l.startsWith("["));
    assert.deepEqual(lines, ["from-the-background", "rc=0"], r.out);
  });
});
