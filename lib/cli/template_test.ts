import assert from "node:assert/strict";
import { execute, formatItems, headerContext, parseTemplate, STRUCT, TemplateError } from "./template.ts";

const run = (text: string, data: unknown) => execute(parseTemplate(text), data);

const container = {
  [STRUCT]: "*formatter.ContainerContext",
  ID: "0123456789ab",
  Names: "web",
  Image: "busybox",
  Labels: "a=1,b=2",
  Label(name: string) {
    return ({ a: "1", "com.example.x": "y" } as Record<string, string>)[name] ?? "";
  },
};

const inspect = {
  Id: "0123456789abcdef",
  State: { Status: "running", Pid: 4242, Running: true },
  Config: { Labels: { "com.example.vendor": "ACME", tier: "db" }, Env: ["A=1", "PATH=/bin"] },
  Mounts: [{ Source: "/srv", Destination: "/data" }, { Source: "/v", Destination: "/v" }],
  NetworkSettings: { Networks: {} },
};

Deno.test("fields, methods with arguments, index and json, as docker's examples use them", () => {
  assert.equal(run("{{.ID}}: {{.Names}}", container), "0123456789ab: web");
  assert.equal(run('{{.Label "com.example.x"}}', container), "y");
  assert.equal(run("{{.State.Pid}}", inspect), "4242");
  assert.equal(run('{{index .Config.Labels "com.example.vendor"}}', inspect), "ACME");
  assert.equal(run("{{json .Config.Labels}}", inspect), '{"com.example.vendor":"ACME","tier":"db"}');
  assert.equal(run("{{json .Names}}", container), '"web"');
  assert.equal(run("{{.Config.Labels}}", inspect), "map[com.example.vendor:ACME tier:db]");
  assert.equal(run("{{.Config.Env}}", inspect), "[A=1 PATH=/bin]");
  assert.equal(run("{{.Config.Missing}}", inspect), "<no value>", "a map's missing key");
  assert.equal(run("{{len .Mounts}} {{index .Config.Env 1}}", inspect), "2 PATH=/bin");
});

Deno.test("range, if, else if, with, variables and pipelines", () => {
  assert.equal(run("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", inspect), "/srv:/data /v:/v ");
  assert.equal(
    run("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", inspect),
    "com.example.vendor=ACME;tier=db;",
  );
  assert.equal(run("{{range $i, $e := .Config.Env}}{{$i}}{{$e}} {{end}}", inspect), "0A=1 1PATH=/bin ");
  assert.equal(run("{{range .NetworkSettings.Networks}}x{{else}}none{{end}}", inspect), "none");
  assert.equal(run('{{if eq .State.Status "running"}}up{{else}}down{{end}}', inspect), "up");
  assert.equal(
    run('{{if eq .State.Status "exited"}}e{{else if .State.Running}}r{{else}}?{{end}}', inspect),
    "r",
  );
  assert.equal(run("{{with .State}}{{.Pid}}{{end}}", inspect), "4242");
  assert.equal(run("{{$p := .State.Pid}}{{range .Mounts}}{{$p}}{{end}}", inspect), "42424242");
  assert.equal(run("{{range .Mounts}}{{$.Id}} {{end}}", inspect), "0123456789abcdef 0123456789abcdef ");
  assert.equal(run('{{.Names | printf "%-6s|"}}', container), "web   |");
  assert.equal(run("{{upper .Image}} {{lower (upper .Image)}}", container), "BUSYBOX busybox");
  assert.equal(run('{{join (split .Labels ",") " "}}', container), "a=1 b=2");
  assert.equal(run("{{truncate .ID 4}}{{pad .Names 1 1}}|", container), "0123 web |");
  assert.equal(run("{{if and .State.Running (not .Config.Missing)}}ok{{end}}", inspect), "ok");
  assert.equal(run("a {{- /* gone */ -}} b\n{{- .Names}}", container), "abweb");
});

Deno.test("a template that does not parse is refused with its position", () => {
  const cases: [string, string][] = [
    ["{{.ID", "template: :1:1: unclosed action"],
    ["x {{nosuch .ID}}", 'template: :1:5: function "nosuch" not defined'],
    ["{{if .ID}}x", "template: :1:12: unexpected EOF in if"],
    ["{{end}}", "template: :1:3: unexpected {{end}}"],
    ['{{"abc}}', "template: :1:3: unterminated quoted string"],
    ["line\n{{.A | }}", "template: :2:3: missing command after |"],
    ["{{.A ; }}", 'template: :1:6: unexpected ";" in command'],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseTemplate(text),
      (e: unknown) => e instanceof TemplateError && e.message === message,
      text,
    );
  }
});

Deno.test("a struct's unknown field fails while running, naming it", () => {
  assert.throws(
    () => run("{{.Nope}}", container),
    /^TemplateError: template: :1:3: executing "" at <\.Nope>: can't evaluate field Nope in type \*formatter\.ContainerContext$/,
  );
});

Deno.test("formatItems: a line per item, \\t written out, and table's header and columns", () => {
  const items = [container, { ...container, ID: "ffffffffffff", Names: "a-much-longer-name" }];
  assert.equal(
    formatItems("{{.ID}}\\t{{.Names}}", items, {}, ""),
    "0123456789ab\tweb\nffffffffffff\ta-much-longer-name\n",
  );
  const headers = headerContext({ ID: "CONTAINER ID", Names: "NAMES", Image: "IMAGE" });
  assert.equal(
    formatItems("table {{.Names}}\\t{{.Image}}\\t{{.ID}}", items, headers, ""),
    [
      "NAMES                IMAGE     CONTAINER ID",
      "web                  busybox   0123456789ab",
      "a-much-longer-name   busybox   ffffffffffff",
      "",
    ].join("\n"),
  );
  assert.equal(formatItems('table {{.Label "com.example.x"}}', [container], headers, ""), "X\ny\n");
  assert.equal(formatItems("table", [container], headers, "{{.Names}}"), "NAMES\nweb\n");
  assert.throws(
    () => formatItems("{{.ID", [], headers, ""),
    /^TemplateError: template parsing error: template: :1:1: unclosed action$/,
  );
});
