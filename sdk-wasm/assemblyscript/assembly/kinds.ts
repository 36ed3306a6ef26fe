// Registration of trust scorers and personalities, and the runners their
// operation exports (trust.ts, personality.ts) call; strategies are in
// strategykind.ts. A plugin registers
// at the top level of its entry file, which AssemblyScript runs in the
// module's start function, before the host can call anything.

import { JSONWriter } from "./json";
import { Runner } from "./abi";
import { PluginError, invalid, unimplemented } from "./errors";
import {
  checkRequest,
  ScoreRequest, TrustScore, decodeScoreRequest, encodeTrustScore,
  AdjustRequest, Adjustment, decodeAdjustRequest, encodeAdjustment,
} from "./schema";

/**
 * A raw handler gets the request's UTF-8 JSON bytes (a view valid during the
 * call only) and writes one JSON value, the result, into result; the SDK
 * wraps it in {"v":1,"result":...}. It checks nothing: the request version
 * and the result's validity are the handler's business. Return an error
 * instead to answer an error envelope (what was written is then dropped).
 */
export type RawHandler = Runner;

/** A trust scorer: fill out from req, or return an error (out is then ignored). */
export type ScoreFunc = (req: ScoreRequest, out: TrustScore) => PluginError | null;

/** A personality: fill out from req, or return an error (out is then ignored). */
export type AdjustFunc = (req: AdjustRequest, out: Adjustment) => PluginError | null;

let trustFunc: ScoreFunc | null = null;
let trustRunner: Runner = noTrust;
let personalityFunc: AdjustFunc | null = null;
let personalityRunner: Runner = noPersonality;

// The runners go through these globals rather than straight to the typed
// code, so that a raw plugin (the echo guest) does not link the decoders.

/**
 * registerTrust makes f the plugin's trust scorer (swarm_trust_score). The
 * SDK checks the request version, decodes the ScoreRequest (an "invalid"
 * error names a malformed field) and encodes the TrustScore (a NaN or
 * infinite value is a "failed" error).
 */
export function registerTrust(f: ScoreFunc): void {
  trustFunc = f;
  trustRunner = runTrust;
}

/** registerTrustRaw serves swarm_trust_score with a raw handler (see RawHandler). */
export function registerTrustRaw(f: RawHandler): void {
  trustFunc = null;
  trustRunner = f;
}

/** registerPersonality makes f the plugin's personality (swarm_personality_adjust); see registerTrust. */
export function registerPersonality(f: AdjustFunc): void {
  personalityFunc = f;
  personalityRunner = runPersonality;
}

/** registerPersonalityRaw serves swarm_personality_adjust with a raw handler (see RawHandler). */
export function registerPersonalityRaw(f: RawHandler): void {
  personalityFunc = null;
  personalityRunner = f;
}

/** The runner of swarm_trust_score. */
export function currentTrustRunner(): Runner {
  return trustRunner;
}

/** The runner of swarm_personality_adjust. */
export function currentPersonalityRunner(): Runner {
  return personalityRunner;
}

function noTrust(request: Uint8Array, result: JSONWriter): PluginError | null {
  return unimplemented("no trust scorer registered (call registerTrust at the top level of the plugin's entry file)");
}

function noPersonality(request: Uint8Array, result: JSONWriter): PluginError | null {
  return unimplemented("no personality registered (call registerPersonality at the top level of the plugin's entry file)");
}

/** runTrust answers swarm_trust_score for a typed scorer. */
function runTrust(request: Uint8Array, result: JSONWriter): PluginError | null {
  const fn = trustFunc;
  if (!fn) return noTrust(request, result);
  const checked = checkRequest(request, false);
  if (checked.error) return checked.error;
  const req = new ScoreRequest();
  const problem = decodeScoreRequest(checked.value!, req);
  if (problem != "") return invalid("bad request: " + problem);
  const out = new TrustScore();
  const err = fn(req, out);
  if (err) return err;
  return encodeTrustScore(out, result);
}

/** runPersonality answers swarm_personality_adjust for a typed personality. */
function runPersonality(request: Uint8Array, result: JSONWriter): PluginError | null {
  const fn = personalityFunc;
  if (!fn) return noPersonality(request, result);
  const checked = checkRequest(request, false);
  if (checked.error) return checked.error;
  const req = new AdjustRequest();
  const problem = decodeAdjustRequest(checked.value!, req);
  if (problem != "") return invalid("bad request: " + problem);
  const out = new Adjustment();
  const err = fn(req, out);
  if (err) return err;
  return encodeAdjustment(out, result);
}
