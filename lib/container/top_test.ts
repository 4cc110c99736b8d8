import assert from "node:assert/strict";
import { parsePsOutput } from "./top.ts";

const PS_EF = `UID        PID  PPID  C STIME TTY          TIME CMD
root         1     0  0 Dec01 ?        00:01:50 /sbin/init splash
root       812   790  0 01:02 ?        00:00:00 sleep 300
root       813   812  0 01:02 pts/0    00:00:00 sh -c while true; do  sleep 1; done
`;

Deno.test("top keeps only the container's rows, the last column taking the rest of the line", () => {
  assert.deepEqual(parsePsOutput(PS_EF, [812, 813]), {
    titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
    processes: [
      ["root", "812", "790", "0", "01:02", "?", "00:00:00", "sleep 300"],
      ["root", "813", "812", "0", "01:02", "pts/0", "00:00:00", "sh -c while true; do sleep 1; done"],
    ],
  });
});

Deno.test("top finds the PID column wherever ps puts it, and keeps thread rows with their process", () => {
  const out =
    "USER PID TID CMD\nroot 812 - sleep\nroot - 812 -\nroot - 814 -\nroot 900 - other\nroot - 900 -\n";
  assert.deepEqual(parsePsOutput(out, [812]).processes, [
    ["root", "812", "-", "sleep"],
    ["root", "-", "812", "-"],
    ["root", "-", "814", "-"],
  ]);
});

Deno.test("top refuses ps output without a PID column, or with a PID that is not a number", () => {
  assert.throws(
    () => parsePsOutput("USER COMMAND\nroot sleep\n", [1]),
    /^Error: Couldn't find PID field in ps output$/,
  );
  assert.throws(() => parsePsOutput("PID CMD\nx sleep\n", [1]), /Unexpected pid "x" in ps output/);
});
