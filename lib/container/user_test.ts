import assert from "node:assert/strict";
import { checkGroupAdd, checkUserSpec, resolveUser, UnknownUserError, withHome } from "./user.ts";
import { UsageError } from "../errors.ts";

const FILES: Record<string, string> = {
  "/etc/passwd": [
    "root:x:0:0:root:/root:/bin/sh",
    "# a comment:x:5:5::/:/bin/sh",
    "broken:x:notanumber:1::/:/bin/sh",
    "app:x:1000:1000:app:/home/app:/bin/sh",
    "nohome:x:1001:1001:::/bin/sh",
    "",
  ].join("\n"),
  "/etc/group": "root:x:0:\nwheel:x:10:root,app\nstaff:x:50:other,app\naudio:x:29:\napp:x:1000:\n",
};
const read = (path: string) => FILES[path] ?? null;

Deno.test("a user by name or id gets its entry's gid, home and the groups that list it, the primary first", () => {
  const app = { uid: 1000, gid: 1000, groups: [1000, 10, 50], home: "/home/app" };
  assert.deepEqual(resolveUser("app", [], read), app);
  assert.deepEqual(resolveUser("1000", [], read), app);
  assert.deepEqual(resolveUser("root", [], read), { uid: 0, gid: 0, groups: [0, 10], home: "/root" });
  assert.deepEqual(resolveUser("nohome", [], read).home, "/", "an empty home is /");
});

Deno.test("an explicit group replaces the member groups; --group-add comes after, names and ids, once each", () => {
  assert.deepEqual(resolveUser("app:audio", [], read).groups, [29]);
  assert.deepEqual(resolveUser("app:29", [], read), { uid: 1000, gid: 29, groups: [29], home: "/home/app" });
  assert.deepEqual(resolveUser("app", ["audio", "7", "staff"], read).groups, [1000, 10, 50, 29, 7]);
});

Deno.test("an id the image lacks runs with gid 0 and home /, as docker; a name it lacks is an error", () => {
  assert.deepEqual(resolveUser("4321", [], read), { uid: 4321, gid: 0, groups: [0], home: "/" });
  assert.deepEqual(resolveUser("4321:5", [], () => null), { uid: 4321, gid: 5, groups: [5], home: "/" });
  assert.throws(
    () => resolveUser("nobody2", [], read),
    (e) =>
      e instanceof UnknownUserError &&
      e.message === "unable to find user nobody2: no matching entries in passwd file",
  );
  assert.throws(
    () => resolveUser("app:nogroup", [], read),
    /unable to find group nogroup: no matching entries in group file/,
  );
  assert.throws(() => resolveUser("app", ["video"], read), /unable to find group video/);
  assert.throws(
    () => resolveUser("root", [], () => null),
    /unable to find user root/,
    "no passwd file at all",
  );
});

Deno.test("user and group-add values are checked for shape", () => {
  for (const ok of ["0", "app", "app:staff", "1000:50", "a.b-c_d"]) checkUserSpec(ok);
  for (const bad of ["", ":", "a:", ":g", "a:b:c", "a b", "4294967295", "x\0"]) {
    assert.throws(() => checkUserSpec(bad), UsageError, JSON.stringify(bad));
  }
  checkGroupAdd(["audio", "7"]);
  assert.throws(() => checkGroupAdd(["a:b"]), /Invalid --group-add "a:b"/);
});

Deno.test("HOME comes from the user's entry only when the environment has none", () => {
  assert.deepEqual(withHome(["PATH=/bin"], "/home/app"), ["PATH=/bin", "HOME=/home/app"]);
  assert.deepEqual(withHome(["HOME=/x"], "/home/app"), ["HOME=/x"]);
});
