/**
 * `build`: an image from a Dockerfile, step by step, each RUN in a
 * container of skiff's own run path (lib/container/outside.ts) whose upper
 * dir becomes the step's layer through commit's code, each COPY and ADD a
 * layer made from a staging tree (copy.ts), the other instructions changes
 * of the config with an `empty_layer` history entry. Every step's image is
 * kept in the layer cache (cache.ts); a step whose key is there is not run
 * again. Nothing is tagged until the last step is done, so a failed build
 * names nothing, and its container and staging dirs are removed.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import {
  type Image,
  type ImageConfig,
  imageLayers,
  layerDirs,
  localRef,
  storeImage,
} from "../image/images.ts";
import { extractLayer, type Layer, layerFromUpper, sha256File } from "../image/layers.ts";
import { type ContainerRecord, removeContainer } from "../container/containers.ts";
import { mergeEnvironment } from "../container/run.ts";
import { readJson, type Store } from "../store/store.ts";
import { inUserNamespace, isAlive } from "../host/proc.ts";
import { networkRequest } from "../container/network.ts";
import { cacheKey, findCached, type KeyParts, storeCached } from "./cache.ts";
import { type Entry, hashEntries, parseChmod, parseChown, planCopy, stageEntries } from "./copy.ts";
import {
  type Dockerfile,
  DockerfileError,
  execForm,
  type Instruction,
  INSTRUCTIONS,
  keyValues,
  parseDockerfile,
} from "./dockerfile.ts";
import { expandWord, expandWords, type Vars } from "./expand.ts";
import { cleanPath, IgnoreRules } from "./ignore.ts";
import { ContextTree, EMPTY_TREE, LayerTree, type Tree } from "./tree.ts";
import { later } from "../host/later.ts";

/** What the user asked `build` for. */
export interface BuildOptions {
  /** The context directory. */
  context: string;
  /** The Dockerfile's path (`-f`); by default `Dockerfile`, else `Containerfile`, in the context. */
  file?: string;
  /** The Dockerfile's text (`-f -`: read from stdin by the CLI). */
  text?: string;
  /** `-t` names. */
  tags?: string[];
  /** `--build-arg K=V` (a bare `K` takes the caller's environment: the CLI resolves it). */
  buildArgs?: Record<string, string>;
  /** `--target`: the stage to stop at. */
  target?: string;
  /** `--no-cache`: run every step again. */
  noCache?: boolean;
  /** `--pull`: pull FROM images even when stored. */
  pull?: boolean;
  /** `--network`: RUN's network, as `run --network` takes it (default: run's, the bridge as root). */
  network?: string;
  /** Where progress goes, line by line; none (`-q`): RUN's output too is shown only when it fails. */
  print?: (line: string) => void;
}

/** A RUN step failed: its command's exit code. */
export class StepError extends Error {
  /** The class name, as errors show it. */
  override name = "StepError";
}

const DEFAULT_SHELL = ["/bin/sh", "-c"];

/** Where a stage is: its image so far. */
interface State {
  image: Image | null; // null: scratch, nothing stored yet
  config: ImageConfig;
  layers: Layer[];
  /** ARGs declared in the stage, with their values (undefined: declared, unset). */
  args: Map<string, string | undefined>;
  /** Whether the stage set CMD itself (ENTRYPOINT resets an inherited one). */
  ownCmd: boolean;
}

interface Stage {
  name?: string;
  from: Instruction;
  steps: Instruction[];
  index: number;
}

/**
 * Builds an image.
 *
 * @returns the image of the target stage (the last by default), tagged with `tags`
 * @throws {UsageError} for a missing context or Dockerfile, a bad line (`FILE:LINE`), an unknown stage
 * @throws {StepError} when a RUN exits non-zero
 */
export async function buildImage(store: Store, opts: BuildOptions): Promise<Image> {
  const print = opts.print ?? (() => {});
  const context = checkContext(opts.context);
  const { text, label, path } = readDockerfile(context, opts);
  for (const tag of opts.tags ?? []) localRef(tag);
  const df = parseDockerfile(text, label);
  const ignore = readIgnore(context, path);
  const tree = new ContextTree(context, ignore);
  const { meta, stages } = splitStages(df, label);
  const buildArgs = opts.buildArgs ?? {};
  const used = new Set<string>();
  const metaVars: Vars = new Map();
  for (const { key, value } of meta) {
    const v = buildArgs[key] ?? (value === undefined ? undefined : expandWord(value, metaVars, df.escape));
    if (v !== undefined) metaVars.set(key, v);
    if (key in buildArgs) used.add(key);
  }
  const fromOf = (s: Stage) => fromLine(s.from, metaVars, df.escape, label);
  let targetIndex = stages.length - 1;
  if (opts.target !== undefined) {
    targetIndex = stages.findIndex((s) => s.name === opts.target!.toLowerCase());
    if (targetIndex === -1) throw new UsageError(`Target stage "${opts.target}" not found in ${label}`);
  }
  const needed = neededStages(stages, targetIndex, fromOf, metaVars, df.escape);
  const done = new Map<number, State>();
  // as run checks it, before any step runs
  if (opts.network !== undefined) networkRequest({ network: opts.network }, inUserNamespace());
  await store.init();
  await sweepBuildContainers(store);
  const builder = new Builder(store, opts, df, label, tree, buildArgs, used, print);
  const order = [...needed].sort((a, b) => a - b);
  for (const [n, index] of order.entries()) {
    const stage = stages[index];
    const prefix = order.length > 1 ? `[${n + 1}/${order.length}] ` : "";
    const total = stage.steps.length + 1;
    print(`${prefix}STEP 1/${total}: ${stage.from.original}`);
    const { base } = fromOf(stage);
    const earlier = stages.findIndex((s, i) => i < index && s.name === base.toLowerCase());
    let state: State;
    if (earlier !== -1) state = { ...done.get(earlier)!, args: new Map(), ownCmd: false };
    else state = await builder.baseState(base);
    state.args = new Map();
    for (const [k, v] of metaVars) state.args.set(`\0meta:${k}`, v);
    const steps = [...onBuildTriggers(state, label), ...stage.steps];
    if (state.config.config.OnBuild?.length) {
      state.config = { ...state.config, config: { ...state.config.config, OnBuild: undefined } };
    }
    for (const [i, step] of steps.entries()) {
      const number = `STEP ${Math.min(i + 2, total)}/${total}`;
      print(`${prefix}${number}: ${step.original}`);
      state = await builder.step(state, step, `${number} ${step.original}`, { stages, done, fromOf });
    }
    done.set(index, state);
  }
  const result = done.get(targetIndex)!;
  const final = result.image ??
    await storeCached(store, await cacheKey({ parent: "scratch", instruction: "" }), result.config, []);
  for (const key of Object.keys(buildArgs)) {
    if (!used.has(key)) {
      console.error(`skiff: warning: the build arg "${key}" was not consumed: no ARG declares it`);
    }
  }
  let image = final;
  const tags = opts.tags ?? [];
  if (tags.length > 0) print(`COMMIT ${tags[0]}`);
  const configJson = Deno.readTextFileSync(store.blob(final.id));
  const layers = await imageLayers(store, final);
  for (const tag of tags) {
    image = await storeImage(store, tag, final.config, layers, configJson);
    print(`Successfully tagged ${image.ref}`);
  }
  return image;
}

function checkContext(dir: string): string {
  try {
    if (Deno.statSync(dir).isDirectory) return Deno.realPathSync(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new UsageError(`Cannot build: the context "${dir}" does not exist; give a directory`);
  }
  throw new UsageError(`Cannot build: the context "${dir}" is not a directory`);
}

function readDockerfile(context: string, opts: BuildOptions): { text: string; label: string; path?: string } {
  if (opts.text !== undefined) return { text: opts.text, label: "Dockerfile" };
  const candidates = opts.file !== undefined
    ? [opts.file]
    : ["Dockerfile", "Containerfile"].map((n) => `${context}/${n}`);
  for (const path of candidates) {
    try {
      return { text: Deno.readTextFileSync(path), label: path.split("/").pop()!, path };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw new Error(`Cannot read "${path}"`, { cause: e });
    }
  }
  throw new UsageError(
    opts.file !== undefined
      ? `Cannot build: no such Dockerfile "${opts.file}"`
      : `Cannot build: no Dockerfile or Containerfile in "${context}"; give one with -f`,
  );
}

/** `DOCKERFILE.dockerignore` beside the Dockerfile, else the context's `.dockerignore` (or podman's `.containerignore`). */
function readIgnore(context: string, dockerfile?: string): IgnoreRules | undefined {
  const files = [
    ...(dockerfile ? [`${dockerfile}.dockerignore`] : []),
    `${context}/.dockerignore`,
    `${context}/.containerignore`,
  ];
  for (const f of files) {
    try {
      return IgnoreRules.parse(Deno.readTextFileSync(f));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw new Error(`Cannot read "${f}"`, { cause: e });
    }
  }
  return undefined;
}

/** The ARGs before the first FROM, and the stages. */
function splitStages(df: Dockerfile, label: string): {
  meta: { key: string; value: string | undefined }[];
  stages: Stage[];
} {
  const meta: { key: string; value: string | undefined }[] = [];
  const stages: Stage[] = [];
  for (const ins of df.instructions) {
    if (ins.keyword === "FROM") {
      const words = ins.args.split(/\s+/);
      let name: string | undefined;
      if (words.length === 3 && words[1].toUpperCase() === "AS") name = words[2].toLowerCase();
      else if (words.length !== 1 || words[0] === "") {
        throw new DockerfileError(`${label}:${ins.line}: FROM takes IMAGE [AS NAME]`);
      }
      if (name !== undefined && stages.some((s) => s.name === name)) {
        throw new DockerfileError(`${label}:${ins.line}: the stage name "${name}" is used twice`);
      }
      stages.push({ name, from: ins, steps: [], index: stages.length });
    } else if (stages.length === 0) {
      if (ins.keyword !== "ARG") {
        throw new DockerfileError(
          `${label}:${ins.line}: ${ins.keyword} before the first FROM: only ARG may come before it`,
        );
      }
      meta.push(...keyValues(ins, label, df.escape));
    } else stages.at(-1)!.steps.push(ins);
  }
  if (stages.length === 0) {
    throw new DockerfileError(`${label}: no FROM: a Dockerfile starts its stages with FROM`);
  }
  return { meta, stages };
}

function fromLine(ins: Instruction, vars: Vars, escape: string, label: string): { base: string } {
  const base = expandWord(ins.args.split(/\s+/)[0], vars, escape);
  if (base === "") throw new DockerfileError(`${label}:${ins.line}: FROM names no image: "${ins.args}"`);
  return { base };
}

/** The stages the target needs: itself, the stages it is FROM, and those COPY --from names. */
function neededStages(
  stages: Stage[],
  target: number,
  fromOf: (s: Stage) => { base: string },
  vars: Vars,
  escape: string,
): Set<number> {
  const needed = new Set<number>();
  const visit = (i: number) => {
    if (needed.has(i)) return;
    needed.add(i);
    const refs = [
      fromOf(stages[i]).base,
      ...stages[i].steps.filter((s) => s.flags.from).map((s) => expandWord(s.flags.from, vars, escape)),
    ];
    for (const ref of refs) {
      const j = /^\d+$/.test(ref) ? Number(ref) : stages.findIndex((s) => s.name === ref.toLowerCase());
      if (j !== -1 && j < i) visit(j);
    }
  };
  visit(target);
  return needed;
}

/** The base image's ONBUILD triggers, as instructions to run first. */
function onBuildTriggers(state: State, label: string): Instruction[] {
  const triggers = state.config.config.OnBuild ?? [];
  return triggers.flatMap((t) => parseDockerfile(t, `${label} (ONBUILD)`).instructions);
}

interface Stages {
  stages: Stage[];
  done: Map<number, State>;
  fromOf: (s: Stage) => { base: string };
}

class Builder {
  constructor(
    readonly store: Store,
    readonly opts: BuildOptions,
    readonly df: Dockerfile,
    readonly label: string,
    readonly context: Tree,
    readonly buildArgs: Record<string, string>,
    readonly used: Set<string>,
    readonly print: (line: string) => void,
  ) {}

  /** A stage's start: scratch, or a stored (else pulled) image. */
  async baseState(base: string): Promise<State> {
    if (base === "scratch") {
      return {
        image: null,
        config: {
          created: new Date().toISOString(),
          architecture: Deno.build.arch === "x86_64" ? "amd64" : "arm64",
          os: "linux",
          config: {},
          rootfs: { type: "layers", diff_ids: [] },
          history: [],
        },
        layers: [],
        args: new Map(),
        ownCmd: false,
      };
    }
    const image = await this.#resolve(base);
    return {
      image,
      config: image.config,
      layers: await imageLayers(this.store, image),
      args: new Map(),
      ownCmd: false,
    };
  }

  async #resolve(ref: string): Promise<Image> {
    const { resolveImage } = await later<typeof import("../container/resolve_image.ts")>(
      "../container/resolve_image.ts",
      import.meta.url,
    );
    return await resolveImage(this.store, ref, this.opts.pull ? "always" : "missing");
  }

  /** The variables a line of the stage expands with: its ARGs, under the config's ENV. */
  vars(state: State): Vars {
    const vars: Vars = new Map();
    for (const [k, v] of state.args) if (!k.startsWith("\0") && v !== undefined) vars.set(k, v);
    for (const e of state.config.config.Env ?? []) {
      const eq = e.indexOf("=");
      if (eq > 0) vars.set(e.slice(0, eq), e.slice(eq + 1));
    }
    return vars;
  }

  /** Runs one instruction; returns the stage's new state. */
  async step(state: State, ins: Instruction, title: string, stages: Stages): Promise<State> {
    try {
      return await this.#step(state, ins, title, stages);
    } catch (e) {
      if (e instanceof StepError || e instanceof DockerfileError && e.message.startsWith(`${this.label}:`)) {
        throw e;
      }
      if (e instanceof UsageError) throw new UsageError(`${this.label}:${ins.line}: ${e.message}`);
      throw new Error(`${this.label}:${ins.line}: ${ins.keyword} failed`, { cause: e });
    }
  }

  async #step(state: State, ins: Instruction, title: string, stages: Stages): Promise<State> {
    const esc = this.df.escape;
    const vars = this.vars(state);
    const word = (w: string) => expandWord(w, vars, esc);
    const c = { ...state.config.config };
    const shellForm = (what: string) =>
      ins.json ??
        [...(c.Shell ?? DEFAULT_SHELL), ins.args.length ? ins.args : fail(`${what} needs a command`)];
    const fail = (what: string): never => {
      throw new DockerfileError(`${this.label}:${ins.line}: ${what}`);
    };
    switch (ins.keyword) {
      case "ARG": {
        for (const { key, value } of keyValues(ins, this.label, esc)) {
          const meta = state.args.get(`\0meta:${key}`);
          const v = this.buildArgs[key] ?? (value !== undefined ? word(value) : meta);
          if (key in this.buildArgs) this.used.add(key);
          state.args.set(key, v);
        }
        return { ...state, args: new Map(state.args) };
      }
      case "RUN":
        return await this.#run(state, ins, title);
      case "COPY":
      case "ADD":
        return await this.#copy(state, ins, vars, stages);
      case "ENV": {
        const pairs = keyValues(ins, this.label, esc).map(({ key, value }) => `${key}=${word(value ?? "")}`);
        c.Env = mergeEnvironment([...(c.Env ?? []), ...pairs]);
        break;
      }
      case "CMD":
        c.Cmd = shellForm("CMD");
        state = { ...state, ownCmd: true };
        break;
      case "ENTRYPOINT":
        c.Entrypoint = ins.json ?? [...(c.Shell ?? DEFAULT_SHELL), ins.args];
        if (c.Entrypoint.length === 0 || ins.args === "") c.Entrypoint = undefined;
        if (!state.ownCmd) c.Cmd = undefined;
        break;
      case "LABEL": {
        const labels = { ...(c.Labels ?? {}) };
        for (const { key, value } of keyValues(ins, this.label, esc)) labels[word(key)] = word(value ?? "");
        c.Labels = labels;
        break;
      }
      case "MAINTAINER":
        return await this.#meta(state, ins, { ...state.config, author: ins.args });
      case "EXPOSE": {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of expandWords(ins.args, vars, esc)) {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!m) fail(`EXPOSE "${p}" is not PORT[/PROTOCOL]`);
          const [from, to] = [Number(m![1]), Number(m![2] ?? m![1])];
          for (let n = from; n <= to; n++) ports[`${n}/${(m![3] ?? "tcp").toLowerCase()}`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      case "VOLUME": {
        const volumes = { ...(c.Volumes ?? {}) };
        for (const v of ins.json ?? expandWords(ins.args, vars, esc)) {
          if (v.trim() === "") fail("VOLUME names an empty path");
          volumes[ins.json ? word(v) : v] = {};
        }
        c.Volumes = volumes;
        break;
      }
      case "USER":
        c.User = word(ins.args);
        if (c.User === "") fail("USER needs a user");
        break;
      case "WORKDIR": {
        const dir = word(ins.args);
        if (dir === "") fail("WORKDIR needs a path");
        c.WorkingDir = normalize(dir.startsWith("/") ? dir : `${c.WorkingDir ?? "/"}/${dir}`);
        break;
      }
      case "STOPSIGNAL":
        c.StopSignal = word(ins.args);
        break;
      case "HEALTHCHECK":
        c.Healthcheck = healthcheck(ins, fail);
        break;
      case "ONBUILD": {
        const inner = /^(\S+)/.exec(ins.args)?.[1]?.toUpperCase();
        if (!inner || !INSTRUCTIONS.has(inner)) fail(`ONBUILD needs an instruction`);
        if (["ONBUILD", "FROM", "MAINTAINER"].includes(inner!)) fail(`ONBUILD ${inner} is not allowed`);
        c.OnBuild = [...(c.OnBuild ?? []), `${inner} ${ins.args.slice(inner!.length).trim()}`];
        break;
      }
      case "SHELL":
        if (!ins.json || ins.json.length === 0) fail('SHELL takes a JSON array: SHELL ["/bin/sh", "-c"]');
        c.Shell = ins.json;
        break;
      default:
        fail(`${ins.keyword} is not supported here`);
    }
    return await this.#meta(state, ins, { ...state.config, config: c });
  }

  /** A step that changes only the config: an image with an `empty_layer` history entry. */
  async #meta(state: State, ins: Instruction, config: ImageConfig): Promise<State> {
    const instruction = `${ins.keyword} ${JSON.stringify(config.config)} ${config.author ?? ""}`;
    const createdBy = `/bin/sh -c #(nop) ${ins.original}`;
    return await this.#commit(
      state,
      { parent: state.image?.id ?? "scratch", instruction },
      createdBy,
      config,
      null,
    );
  }

  /**
   * A step's image: from the cache when its key is there, else made
   * (`make` gives the layer, or null for none) and cached.
   */
  async #commit(
    state: State,
    parts: KeyParts,
    createdBy: string,
    config: ImageConfig,
    make: (() => Promise<Layer>) | null,
  ): Promise<State> {
    const key = await cacheKey(parts);
    if (!this.opts.noCache) {
      const hit = await findCached(this.store, key);
      if (hit) {
        this.print(`--> Using cache ${hit.id}`);
        this.print(`--> ${hit.id.slice(0, 12)}`);
        return { ...state, image: hit, config: hit.config, layers: await imageLayers(this.store, hit) };
      }
    }
    const layer = make ? await make() : null;
    const created = new Date().toISOString();
    const next: ImageConfig = {
      ...config,
      created,
      rootfs: {
        type: "layers",
        diff_ids: [...config.rootfs.diff_ids, ...(layer ? [`sha256:${layer.diffId}`] : [])],
      },
      history: [...(config.history ?? []), {
        created,
        created_by: createdBy,
        ...(layer ? {} : { empty_layer: true }),
      }],
    };
    const layers = [...state.layers, ...(layer ? [layer] : [])];
    const image = await storeCached(this.store, key, next, layers);
    this.print(`--> ${image.id.slice(0, 12)}`);
    return { ...state, image, config: next, layers };
  }

  /** The build args in scope for RUN's environment and key: declared, set, not shadowed by ENV. */
  #runArgs(state: State): string[] {
    const env = new Set((state.config.config.Env ?? []).map((e) => e.slice(0, e.indexOf("="))));
    return [...state.args].filter(([k, v]) => !k.startsWith("\0") && v !== undefined && !env.has(k)).map((
      [k, v],
    ) => `${k}=${v}`);
  }

  async #run(state: State, ins: Instruction, title: string): Promise<State> {
    const shell = state.config.config.Shell ?? DEFAULT_SHELL;
    let argv: string[];
    const only = /^<<-?["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?$/.exec(ins.args);
    if (ins.json) argv = ins.json;
    else if (ins.heredocs.length === 1 && only) argv = [...shell, ins.heredocs[0].body];
    else if (ins.heredocs.length > 0) {
      argv = [...shell, `${ins.args}\n${ins.heredocs.map((h) => `${h.body}${h.name}\n`).join("")}`];
    } else if (ins.args === "") throw new DockerfileError(`${this.label}:${ins.line}: RUN needs a command`);
    else argv = [...shell, ins.args];
    for (const flag of Object.keys(ins.flags)) {
      if (flag !== "network" || !["none", "default", "host"].includes(ins.flags.network)) {
        throw new UsageError(
          `RUN --${flag}=${ins.flags[flag]} is not supported: RUN takes --network=none|default|host`,
        );
      }
    }
    // RUN --network=default is the build's own
    const network = ins.flags.network === undefined || ins.flags.network === "default"
      ? this.opts.network
      : ins.flags.network;
    const args = this.#runArgs(state);
    const createdBy = `${args.length ? `|${args.length} ${args.join(" ")} ` : ""}${argv.join(" ")}`;
    const parts = { parent: state.image?.id ?? "scratch", instruction: `RUN ${JSON.stringify(argv)}`, args };
    return await this.#commit(state, parts, createdBy, state.config, async () => {
      if (state.image === null || state.layers.length === 0) {
        throw new UsageError(`RUN needs files to run: the stage is FROM scratch with nothing copied yet`);
      }
      return await this.#runLayer(state.image, argv, args, title, network);
    });
  }

  /** Runs `argv` in a container of `image` and makes its changes a layer; the container goes either way. */
  async #runLayer(
    image: Image,
    argv: string[],
    args: string[],
    title: string,
    network?: string,
  ): Promise<Layer> {
    const { runImage } = await later<typeof import("../container/outside.ts")>(
      "../container/outside.ts",
      import.meta.url,
    );
    const { containerLayer } = await later<typeof import("../container/commit.ts")>(
      "../container/commit.ts",
      import.meta.url,
    );
    const name = `${this.store.tempPrefix(BUILD_CONTAINER)}${crypto.randomUUID().slice(0, 8)}`;
    let id: string | undefined;
    try {
      // The step's output is shown, or with -q kept and shown only if it fails; never stdin.
      const kept: Uint8Array[] = [];
      const keep = { write: (p: Uint8Array) => (kept.push(p.slice()), Promise.resolve(p.length)) };
      const quiet = this.opts.print === undefined;
      const ran = await runImage(this.store, image, {
        image: image.id,
        name,
        command: argv,
        entrypoint: "",
        env: args,
        remove: false,
        ...(network !== undefined ? { network: { network } } : {}),
      }, quiet ? { stdout: keep, stderr: keep } : { stdout: Deno.stdout, stderr: Deno.stderr });
      id = ran.id;
      if (ran.exitCode !== 0) {
        for (const chunk of kept) Deno.stderr.writeSync(chunk);
        throw new StepError(`${title}: exit code ${ran.exitCode}`);
      }
      const record = await readJson<ContainerRecord>(this.store.record(id));
      if (record === null) throw new Error(`The build's container ${id.slice(0, 12)} is gone`);
      return await containerLayer(this.store, record);
    } finally {
      // runImage removed it itself if it did not start.
      const left = id ?? await findByName(this.store, name);
      if (left) await removeContainer(this.store, left, true).catch(() => {});
    }
  }

  async #copy(state: State, ins: Instruction, vars: Vars, stages: Stages): Promise<State> {
    const esc = this.df.escape;
    const add = ins.keyword === "ADD";
    const words = ins.json ? ins.json.map((w) => expandWord(w, vars, esc)) : expandWords(ins.args, vars, esc);
    if (words.length < 2) {
      throw new DockerfileError(`${this.label}:${ins.line}: ${ins.keyword} needs a source and a destination`);
    }
    for (const flag of ["link", "parents", "exclude", "keep-git-dir"]) {
      if (ins.flags[flag] !== undefined) {
        throw new UsageError(`${ins.keyword} --${flag} is not supported yet`);
      }
    }
    const sources = words.slice(0, -1);
    const destWord = words.at(-1)!;
    const dest = normalize(
      destWord.startsWith("/") ? destWord : `${state.config.config.WorkingDir ?? "/"}/${destWord}`,
    );
    const here = new LayerTree("the image", layerDirs(this.store, state.config));
    let from = this.context;
    let keepOwner = false;
    if (ins.flags.from !== undefined) {
      if (add) throw new UsageError("ADD takes no --from: use COPY --from");
      from = await this.#fromTree(expandWord(ins.flags.from, vars, esc), stages);
      keepOwner = true;
    }
    const heredocs: Record<string, string> = {};
    for (const h of ins.heredocs) heredocs[h.name] = h.expand ? expandHeredoc(h.body, vars, esc) : h.body;
    const staging = await Deno.makeTempDir({
      dir: this.store.tmpDir,
      prefix: this.store.tempPrefix("build"),
    });
    try {
      const fetched: Record<string, { file: string; name: string }> = {};
      const urls = add ? sources.filter((s) => /^https?:\/\//.test(s)) : [];
      const checksum = ins.flags.checksum;
      if (checksum !== undefined && (urls.length !== 1 || sources.length !== 1)) {
        throw new UsageError("ADD --checksum takes one source, an http(s) URL");
      }
      if (checksum !== undefined && !/^sha256:[0-9a-f]{64}$/.test(checksum)) {
        throw new UsageError(`Invalid ADD --checksum "${checksum}": use sha256:HEX`);
      }
      for (const s of urls) {
        fetched[s] = await fetchSource(s, staging);
        const digest = checksum && `sha256:${await sha256File(fetched[s].file)}`;
        if (checksum && digest !== checksum) {
          throw new UsageError(`Cannot add "${s}": its digest is ${digest}, not the --checksum ${checksum}`);
        }
      }
      const chown = ins.flags.chown !== undefined
        ? parseChown(expandWord(ins.flags.chown, vars, esc), here)
        : undefined;
      const chmod = ins.flags.chmod !== undefined ? parseChmod(ins.flags.chmod) : undefined;
      const entries = await planCopy({
        from,
        into: here,
        sources,
        // "dir/", ".", "..": a directory, whether the image has it or not
        dest: /(^|\/)(\.\.?)?$/.test(destWord) ? `${dest}/` : dest,
        heredocs,
        fetched,
        chown,
        chmod,
        keepOwner,
        unpack: add,
      });
      const content = await hashEntries(entries);
      const flags = Object.entries(ins.flags).map(([k, v]) => `--${k}=${v}`).join(" ");
      const instruction = `${ins.keyword} ${flags} ${JSON.stringify(words)}`;
      const createdBy = `/bin/sh -c #(nop) ${ins.keyword} ${flags ? `${flags} ` : ""}${
        sources.join(" ")
      } in ${dest} `;
      const parts = { parent: state.image?.id ?? "scratch", instruction, content };
      return await this.#commit(
        state,
        parts,
        createdBy,
        state.config,
        () => this.#copyLayer(staging, entries),
      );
    } finally {
      await Deno.remove(staging, { recursive: true });
    }
  }

  /** COPY --from's tree: a stage by name or number, else an image. */
  async #fromTree(ref: string, { stages, done }: Stages): Promise<Tree> {
    const index = /^\d+$/.test(ref) ? Number(ref) : stages.findIndex((s) => s.name === ref.toLowerCase());
    if (index !== -1 && index < stages.length) {
      const state = done.get(index);
      if (!state) throw new UsageError(`COPY --from=${ref}: the stage is not built before this one`);
      return state.layers.length === 0
        ? EMPTY_TREE
        : new LayerTree(`stage "${ref}"`, layerDirs(this.store, state.config));
    }
    if (/^\d+$/.test(ref)) throw new UsageError(`COPY --from=${ref}: there is no stage ${ref}`);
    const image = await this.#resolve(ref);
    return new LayerTree(`image "${ref}"`, layerDirs(this.store, image.config));
  }

  async #copyLayer(staging: string, entries: Entry[]): Promise<Layer> {
    const root = `${staging}/root`;
    Deno.mkdirSync(root);
    await stageEntries(root, entries);
    const markers = `${staging}/markers`;
    Deno.mkdirSync(markers);
    const tar = `${staging}/layer.tar`;
    await layerFromUpper(root, markers, tar, []);
    return await extractLayer(this.store, tar, "a COPY step", { move: true, whiteouts: false });
  }
}

/** RUN containers are named `skiff-build-PID-STARTTIME-RANDOM`, after the build's process. */
const BUILD_CONTAINER = "skiff-build";
const BUILD_NAME = /^skiff-build-(\d+)-(\d+)-/;

/**
 * Removes the exited RUN containers of builds whose process is gone (a
 * build killed mid-step cannot remove its own), never a live build's.
 */
async function sweepBuildContainers(store: Store): Promise<void> {
  const { listContainers } = await later<typeof import("../container/containers.ts")>(
    "../container/containers.ts",
    import.meta.url,
  );
  for (const r of await listContainers(store)) {
    const m = BUILD_NAME.exec(r.name);
    if (m && r.status === "exited" && !isAlive(Number(m[1]), Number(m[2]))) {
      await removeContainer(store, r.id, true).catch(() => {}); // another build's sweep got it
    }
  }
}

async function findByName(store: Store, name: string): Promise<string | undefined> {
  const { listContainers } = await later<typeof import("../container/containers.ts")>(
    "../container/containers.ts",
    import.meta.url,
  );
  return (await listContainers(store)).find((r) => r.name === name)?.id;
}

/** A heredoc body with an unquoted delimiter, expanded as COPY expands (RUN's shell does its own). */
function expandHeredoc(body: string, vars: Vars, escape: string): string {
  return body.replace(/\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)/g, (m) => expandWord(m, vars, escape));
}

/** ADD URL: the file fetched into `dir`, named after the URL's last path part. */
async function fetchSource(url: string, dir: string): Promise<{ file: string; name: string }> {
  const name = decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "") || "download";
  const file = `${dir}/fetched-${crypto.randomUUID()}`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`Cannot fetch "${url}"`, { cause: e });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new UsageError(`Cannot fetch "${url}": HTTP ${response.status} ${response.statusText}`);
  }
  const out = await Deno.open(file, { write: true, createNew: true, mode: 0o600 });
  await response.body.pipeTo(out.writable);
  const modified = response.headers.get("last-modified");
  if (modified && !Number.isNaN(Date.parse(modified))) {
    const when = new Date(Date.parse(modified));
    Deno.utimeSync(file, when, when);
  }
  return { file, name };
}

/** An absolute path with `.`, `..` and repeated slashes folded, as Go's path.Clean. */
function normalize(path: string): string {
  return `/${cleanPath(path)}`;
}

/** HEALTHCHECK as docker keeps it: `{Test, Interval, Timeout, StartPeriod, StartInterval, Retries}`, durations in ns. */
function healthcheck(ins: Instruction, fail: (what: string) => never): Record<string, unknown> {
  if (/^none$/i.test(ins.args)) return { Test: ["NONE"] };
  const m = /^CMD\s+(.*)$/is.exec(ins.args);
  if (!m) fail("HEALTHCHECK takes NONE or [OPTIONS] CMD COMMAND");
  const json = execForm(m![1].trim());
  // CMD-SHELL, as docker keeps it: the checker picks the shell, not the Dockerfile's SHELL
  const check: Record<string, unknown> = { Test: json ? ["CMD", ...json] : ["CMD-SHELL", m![1].trim()] };
  const names: Record<string, string> = {
    interval: "Interval",
    timeout: "Timeout",
    "start-period": "StartPeriod",
    "start-interval": "StartInterval",
  };
  for (const [flag, value] of Object.entries(ins.flags)) {
    if (flag === "retries") {
      if (!/^\d+$/.test(value)) fail(`HEALTHCHECK --retries "${value}" is not a number`);
      check.Retries = Number(value);
    } else {
      const ns = duration(value);
      if (ns === null) fail(`HEALTHCHECK --${flag} "${value}" is not a duration such as 30s`);
      check[names[flag]] = ns;
    }
  }
  return check;
}

/** A Go duration (`1m30s`, `500ms`) in nanoseconds, or null. */
export function duration(text: string): number | null {
  const units: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12 };
  if (text === "0") return 0;
  let total = 0;
  let rest = text;
  while (rest !== "") {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) return null;
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return text === "" ? null : Math.round(total);
}
