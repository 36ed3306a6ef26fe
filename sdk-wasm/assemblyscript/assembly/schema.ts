// The request and result schemas of ABI.md §3 (version 1) for the trust and
// personality kinds, with their decoding and encoding. Requests decode
// leniently (see decode.ts); results encode to the ABI.md form.

import { JSONValue, JSONKind, JSONWriter, parseJSONBytes, jsonError, formatNumber } from "./json";
import { Fields, field, describe, toI64 } from "./decode";
import { PluginError, invalid, failed } from "./errors";

/** The version of every request and result schema this SDK speaks. */
export const SCHEMA_VERSION: i32 = 1;

/** The result of checkRequest: the request object, or the error to answer. */
export class Checked {
  value: JSONValue | null = null;
  error: PluginError | null = null;
}

/**
 * checkRequest parses a request and checks that it is a JSON object whose
 * "version" is SCHEMA_VERSION (absent is allowed only when versionOptional),
 * as the Go SDK does. Every failure is an "invalid" error.
 */
export function checkRequest(request: Uint8Array, versionOptional: bool): Checked {
  const out = new Checked();
  let i = 0;
  const n = request.length;
  while (i < n) {
    const c = request[i];
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    i++;
  }
  if (i >= n || request[i] != 0x7b) {
    out.error = invalid("the request is not a JSON object");
    return out;
  }
  const v = parseJSONBytes(request.buffer, request.byteOffset, request.length);
  if (!v) {
    out.error = invalid("the request is not valid JSON: " + jsonError());
    return out;
  }
  const version = field(v, "version");
  if (!version) {
    if (!versionOptional) {
      out.error = invalid("the request has no version (this SDK speaks version " + SCHEMA_VERSION.toString() + ")");
      return out;
    }
  } else {
    const ok = new StaticArray<bool>(1);
    const x = toI64(version, ok);
    if (!ok[0]) {
      out.error = invalid("request version " + describe(version) + " is not an integer");
      return out;
    }
    if (x != <i64>SCHEMA_VERSION) {
      out.error = invalid("request version " + x.toString() + " is not supported (this SDK speaks version " + SCHEMA_VERSION.toString() + ")");
      return out;
    }
  }
  out.value = v;
  return out;
}

/** finite returns a "failed" error naming a result field that is NaN or infinite, or null. */
export function finite(name: string, x: f64): PluginError | null {
  if (isFinite(x)) return null;
  return failed("cannot encode the result: " + name + " is " + formatNumber(x) + " (results must be finite numbers)");
}

// ---------------------------------------------------------------------------
// trust

/** One recorded fact for or against the subject. */
export class Evidence {
  /** When it happened, RFC 3339 as sent ("" when absent). */
  time: string = "";
  /** time as Unix seconds, NaN when absent. */
  timeUnix: f64 = NaN;
  /** e.g. "task", "trap", "timeout", "benchmark", "canary". */
  kind: string = "";
  /** Whether it speaks for the subject. */
  positive: bool = false;
  /** How much it counts (0 when absent). */
  weight: f64 = 0;
  /** Free text. */
  detail: string = "";
}

/** The request of swarm_trust_score. */
export class ScoreRequest {
  /** The schema version, 1. */
  version: i32 = SCHEMA_VERSION;
  /** The time to score at, RFC 3339 as sent ("" when absent or null; an empty string is refused, as in the Go SDK). */
  now: string = "";
  /** now as Unix seconds, NaN when absent. */
  nowUnix: f64 = NaN;
  /** The evidence log. */
  evidence: Array<Evidence> = new Array<Evidence>();
  /** The scorer's configuration from its plugin reference (an optional field ABI.md does not list yet), or null. */
  config: JSONValue | null = null;
}

/** A trust scorer's answer; all three values belong in [0, 1] (the host clamps and records values outside). */
export class TrustScore {
  /** The expected trustworthiness. */
  score: f64 = 0;
  /** How unsure the score is (1: no evidence). */
  uncertainty: f64 = 0;
  /** A pessimistic score (e.g. the 5% quantile) used for ranking. */
  lowerBound: f64 = 0;
}

/** decodeScoreRequest fills out from a checked request; it returns the first problem, or "". */
export function decodeScoreRequest(obj: JSONValue, out: ScoreRequest): string {
  const f = new Fields(obj);
  out.version = f.i32("version", SCHEMA_VERSION);
  out.now = f.string("now", "");
  if (f.get("now")) out.nowUnix = f.time("now");
  out.config = f.get("config");
  const list = f.array("evidence");
  if (list) {
    for (let i = 0, n = list.length; i < n; i++) {
      const item = list.at(i)!;
      const path = "evidence[" + i.toString() + "]";
      if (item.kind != JSONKind.Object) {
        if (f.error == "") f.error = path + ": " + describe(item) + " is not an object";
        break;
      }
      const g = new Fields(item, path);
      const e = new Evidence();
      e.time = g.string("time", "");
      if (g.get("time")) e.timeUnix = g.time("time");
      e.kind = g.string("kind", "");
      e.positive = g.bool("positive", false);
      e.weight = g.f64("weight", 0);
      e.detail = g.string("detail", "");
      if (g.error != "") {
        if (f.error == "") f.error = g.error;
        break;
      }
      out.evidence.push(e);
    }
  }
  return f.error;
}

/** encodeTrustScore writes {"version":1,"score":...,"uncertainty":...,"lowerBound":...}. */
export function encodeTrustScore(s: TrustScore, w: JSONWriter): PluginError | null {
  let e = finite("score", s.score);
  if (!e) e = finite("uncertainty", s.uncertainty);
  if (!e) e = finite("lowerBound", s.lowerBound);
  if (e) return e;
  w.beginObject()
    .key("version").int(SCHEMA_VERSION)
    .key("score").number(s.score)
    .key("uncertainty").number(s.uncertainty)
    .key("lowerBound").number(s.lowerBound)
    .endObject();
  return null;
}

// ---------------------------------------------------------------------------
// personality

/** The request of swarm_personality_adjust. */
export class AdjustRequest {
  /** The schema version, 1. */
  version: i32 = SCHEMA_VERSION;
  /** The agent's role, e.g. "solver". */
  role: string = "";
  /** The evolution's generation. */
  generation: i32 = 0;
  /** The agent's current trust score in [0, 1]. */
  trust: f64 = 0;
  /** The personality's configuration from its plugin reference (optional, not in ABI.md yet), or null. */
  config: JSONValue | null = null;
}

/** A personality's answer; all three values belong in [0, 1]. */
export class Adjustment {
  /** Leans the strategy towards exploration (1) or exploitation (0). */
  mutationBias: f64 = 0;
  /** The share of resources to keep spare. */
  resourceHeadroom: f64 = 0;
  /** How fast a canary's traffic share steps up (0: slowest). */
  canaryPace: f64 = 0;
}

/** decodeAdjustRequest fills out from a checked request; it returns the first problem, or "". */
export function decodeAdjustRequest(obj: JSONValue, out: AdjustRequest): string {
  const f = new Fields(obj);
  out.version = f.i32("version", SCHEMA_VERSION);
  out.role = f.string("role", "");
  out.generation = f.i32("generation", 0);
  out.trust = f.f64("trust", 0);
  out.config = f.get("config");
  return f.error;
}

/** encodeAdjustment writes {"version":1,"mutationBias":...,"resourceHeadroom":...,"canaryPace":...}. */
export function encodeAdjustment(a: Adjustment, w: JSONWriter): PluginError | null {
  let e = finite("mutationBias", a.mutationBias);
  if (!e) e = finite("resourceHeadroom", a.resourceHeadroom);
  if (!e) e = finite("canaryPace", a.canaryPace);
  if (e) return e;
  w.beginObject()
    .key("version").int(SCHEMA_VERSION)
    .key("mutationBias").number(a.mutationBias)
    .key("resourceHeadroom").number(a.resourceHeadroom)
    .key("canaryPace").number(a.canaryPace)
    .endObject();
  return null;
}
