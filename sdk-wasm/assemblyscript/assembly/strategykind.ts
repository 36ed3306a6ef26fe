// The strategy kind (ABI.md §3): an ask/tell optimiser. The schemas, the
// Strategy base class, its registration and the runners of the five
// operations, with the checks of the Go SDK (sdk-wasm/dispatch.go).

import { JSONValue, JSONKind, JSONWriter, parseJSON } from "./json";
import { Fields, describe, toF64 } from "./decode";
import { PluginError, invalid, failed, unimplemented } from "./errors";
import { checkRequest, SCHEMA_VERSION } from "./schema";
import { SearchSpace, Genome, decodeSearchSpace } from "./space";
import { Runner } from "./abi";

/** A score to optimise. */
export class Objective {
  name: string = "";
  /** "MINIMIZE", "MAXIMIZE" or "DIRECTION_UNSPECIFIED" (protojson's enum numbers 0-2 are read as these). */
  direction: string = "";
}

/** The request of swarm_strategy_init. */
export class InitRequest {
  version: i32 = SCHEMA_VERSION;
  /** The search space of the run; the SDK has validated it. */
  space: SearchSpace = new SearchSpace();
  objectives: Array<Objective> = new Array<Objective>();
  /** The run's seed: the same seed must give the same proposals. */
  seed: u64 = 0;
  /** The strategy-specific configuration, or null. */
  config: JSONValue | null = null;
}

/** One proposed genome. */
export class Candidate {
  /** Unique within the run; chosen by the strategy. */
  id: string = "";
  genome: Genome = new Genome();
  /** Ids of the candidates it was derived from. */
  parents: Array<string> = new Array<string>();
  /** How it was made, e.g. "random", "mutate", "crossover". */
  operator: string = "";
}

/** The evaluation of one candidate. */
export class Result {
  id: string = "";
  /** Objective names, parallel to values. */
  names: Array<string> = new Array<string>();
  values: Array<f64> = new Array<f64>();
  failed: bool = false;
  reason: string = "";

  /** The score of objective name, or def when absent. */
  score(name: string, def: f64 = NaN): f64 {
    for (let i = 0; i < this.names.length; i++) if (this.names[i] == name) return this.values[i];
    return def;
  }
}

/**
 * Strategy is the base class of a strategy plugin. The host calls init
 * once (or restore on a fresh instance), then propose and observe in turn,
 * and snapshot whenever it persists the run. Return null for success or a
 * PluginError. Everything random must come from the seed (see Rand) so
 * that restore followed by the same calls gives the same proposals.
 */
export class Strategy {
  /** init starts a run; the space is already validated. */
  init(req: InitRequest): PluginError | null {
    return unimplemented("init is not implemented");
  }
  /** propose appends up to n (n > 0) candidates with ids unique in the run to out. */
  propose(n: i32, out: Array<Candidate>): PluginError | null {
    return unimplemented("propose is not implemented");
  }
  /** observe takes the evaluations of earlier candidates. */
  observe(results: Array<Result>): PluginError | null {
    return unimplemented("observe is not implemented");
  }
  /** snapshot writes everything needed to continue the run as one JSON value. */
  snapshot(state: JSONWriter): PluginError | null {
    return unimplemented("snapshot is not implemented");
  }
  /** restore loads a snapshot's state into a fresh instance (init is not called). */
  restore(state: JSONValue): PluginError | null {
    return unimplemented("restore is not implemented");
  }
}

/** A strategy factory: a fresh instance for each init and restore. */
export type StrategyFactory = () => Strategy;

let factory: StrategyFactory | null = null;
let live: Strategy | null = null;

/**
 * registerStrategy makes f the plugin's strategy factory: swarm_strategy_init
 * and swarm_strategy_restore each call f for a fresh instance.
 */
export function registerStrategy(f: StrategyFactory): void {
  factory = f;
  live = null;
}

function fresh(): Strategy | null {
  const f = factory;
  if (!f) return null;
  return f();
}

function noStrategy(): PluginError {
  return unimplemented("no strategy registered (call registerStrategy at the top level of the plugin's entry file)");
}

function liveStrategy(): Strategy | null {
  return live;
}

function noRun(): PluginError {
  if (!factory) return noStrategy();
  return invalid("the strategy has no run: call init or restore first");
}

function ack(w: JSONWriter): PluginError | null {
  w.beginObject().key("version").int(SCHEMA_VERSION).endObject();
  return null;
}

function decodeInit(obj: JSONValue, out: InitRequest): string {
  const f = new Fields(obj);
  out.version = f.i32("version", SCHEMA_VERSION);
  const space = f.get("space");
  if (space) {
    const e = decodeSearchSpace(space, "space", out.space);
    if (e != "") return e;
  }
  const objs = f.array("objectives");
  if (objs) {
    for (let i = 0, n = objs.length; i < n; i++) {
      const v = objs.at(i)!;
      const path = "objectives[" + i.toString() + "]";
      if (v.kind != JSONKind.Object) return path + ": " + describe(v) + " is not an object";
      const g = new Fields(v, path);
      const o = new Objective();
      o.name = g.string("name", "");
      const d = g.get("direction");
      if (d) {
        if (d.kind == JSONKind.String) o.direction = d.str;
        else if (d.kind == JSONKind.Number && d.num == 0) o.direction = "DIRECTION_UNSPECIFIED";
        else if (d.kind == JSONKind.Number && d.num == 1) o.direction = "MINIMIZE";
        else if (d.kind == JSONKind.Number && d.num == 2) o.direction = "MAXIMIZE";
        else g.fail("direction", describe(d) + " is neither a name nor a known number");
      }
      if (g.error != "") return g.error;
      out.objectives.push(o);
    }
  }
  out.seed = f.u64("seed", 0);
  out.config = f.get("config");
  return f.error;
}

function decodeResults(obj: JSONValue, out: Array<Result>): string {
  const f = new Fields(obj);
  const list = f.array("results");
  if (!list) return f.error;
  const ok = new StaticArray<bool>(1);
  for (let i = 0, n = list.length; i < n; i++) {
    const v = list.at(i)!;
    const path = "results[" + i.toString() + "]";
    if (v.kind != JSONKind.Object) return path + ": " + describe(v) + " is not an object";
    const g = new Fields(v, path);
    const r = new Result();
    r.id = g.string("id", "");
    const scores = g.object("scores");
    if (scores) {
      for (let k = 0, m = scores.length; k < m; k++) {
        const s = scores.at(k)!;
        if (s.kind == JSONKind.Null) continue;
        const x = toF64(s, ok);
        if (!ok[0]) return g.at("scores." + scores.keyAt(k)) + ": " + describe(s) + " is not a number";
        r.names.push(scores.keyAt(k));
        r.values.push(x);
      }
    }
    r.failed = g.bool("failed", false);
    r.reason = g.string("reason", "");
    if (g.error != "") return g.error;
    out.push(r);
  }
  return f.error;
}

function runInit(request: Uint8Array, w: JSONWriter): PluginError | null {
  const c = checkRequest(request, false);
  if (c.error) return c.error;
  const req = new InitRequest();
  const problem = decodeInit(c.value!, req);
  if (problem != "") return invalid("bad request: " + problem);
  const bad = req.space.validate();
  if (bad != "") return invalid("space: " + bad);
  const s = fresh();
  if (!s) return noStrategy();
  live = null;
  const err = s.init(req);
  if (err) return err;
  live = s;
  return ack(w);
}

function runPropose(request: Uint8Array, w: JSONWriter): PluginError | null {
  const c = checkRequest(request, false);
  if (c.error) return c.error;
  const f = new Fields(c.value!);
  const n = f.i32("n", 0);
  if (f.error != "") return invalid("bad request: " + f.error);
  if (n <= 0) return invalid("n must be positive, got " + n.toString());
  const s = liveStrategy();
  if (!s) return noRun();
  const cands = new Array<Candidate>();
  const err = s.propose(n, cands);
  if (err) return err;
  if (cands.length > n) return failed("the strategy proposed " + cands.length.toString() + " candidates, " + n.toString() + " were asked for");
  const seen = new Set<string>();
  for (let i = 0; i < cands.length; i++) {
    const id = cands[i].id;
    if (id == "") return failed("candidate " + i.toString() + " has no id");
    if (seen.has(id)) return failed("candidate id \"" + id + "\" appears twice");
    seen.add(id);
  }
  w.beginObject().key("version").int(SCHEMA_VERSION).key("candidates").beginArray();
  for (let i = 0; i < cands.length; i++) {
    const cand = cands[i];
    w.beginObject().key("id").string(cand.id).key("genome");
    cand.genome.write(w);
    if (cand.parents.length > 0) {
      w.key("parents").beginArray();
      for (let k = 0; k < cand.parents.length; k++) w.string(cand.parents[k]);
      w.endArray();
    }
    if (cand.operator != "") w.key("operator").string(cand.operator);
    w.endObject();
  }
  w.endArray().endObject();
  return null;
}

function runObserve(request: Uint8Array, w: JSONWriter): PluginError | null {
  const c = checkRequest(request, false);
  if (c.error) return c.error;
  const results = new Array<Result>();
  const problem = decodeResults(c.value!, results);
  if (problem != "") return invalid("bad request: " + problem);
  const s = liveStrategy();
  if (!s) return noRun();
  const err = s.observe(results);
  if (err) return err;
  return ack(w);
}

function runSnapshot(request: Uint8Array, w: JSONWriter): PluginError | null {
  const c = checkRequest(request, true);
  if (c.error) return c.error;
  const s = liveStrategy();
  if (!s) return noRun();
  const state = new JSONWriter(256);
  const err = s.snapshot(state);
  if (err) return err;
  if (state.error != "") return failed("cannot encode the snapshot state: " + state.error);
  let text = state.toString();
  if (text.trim() == "") text = "null";
  if (!parseJSON(text)) return failed("snapshot state is not valid JSON");
  w.beginObject().key("version").int(SCHEMA_VERSION).key("state").raw(text).endObject();
  return null;
}

function runRestore(request: Uint8Array, w: JSONWriter): PluginError | null {
  const c = checkRequest(request, false);
  if (c.error) return c.error;
  // "state": null is a state (JSON null); only an absent state is refused.
  const obj = c.value!;
  let state: JSONValue | null = null;
  const keys = obj.keys!;
  for (let i = keys.length - 1; i >= 0; i--) {
    if (keys[i] == "state") {
      state = obj.at(i);
      break;
    }
  }
  if (!state) return invalid("restore request has no state");
  const s = fresh();
  if (!s) return noStrategy();
  live = null;
  const err = s.restore(state);
  if (err) return err;
  live = s;
  return ack(w);
}

/** The runners of the five strategy operations, in ABI order. */
export function strategyRunner(op: i32): Runner {
  switch (op) {
    case 0: return runInit;
    case 1: return runPropose;
    case 2: return runObserve;
    case 3: return runSnapshot;
  }
  return runRestore;
}
