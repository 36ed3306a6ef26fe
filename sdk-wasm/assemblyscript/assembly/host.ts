// The host functions of ABI.md §4 (import module "swarm:host/v1").
//
// AssemblyScript emits an import only for a function the plugin calls, so a
// plugin that never calls these imports nothing. A plugin that calls one
// must list its capability in plugin.yaml (and the operator must grant it):
// otherwise the host refuses the module at upload, naming the import.

import { heldBuffer, release } from "./abi";

// @ts-ignore: decorator
@external("swarm:host/v1", "log")
declare function host_log(level: i32, ptr: usize, len: usize): void;

// @ts-ignore: decorator
@external("swarm:host/v1", "clock_now")
declare function host_clock_now(): i64;

// @ts-ignore: decorator
@external("swarm:host/v1", "random_u64")
declare function host_random_u64(): i64;

// @ts-ignore: decorator
@external("swarm:host/v1", "metric")
declare function host_metric(namePtr: usize, nameLen: usize, value: f64): void;

// @ts-ignore: decorator
@external("swarm:host/v1", "llm_complete")
declare function host_llm_complete(ptr: usize, len: usize): i64;

/** Log levels of log(). */
export enum LogLevel {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
}

/** log writes a line into swarmd's log, tagged with the plugin. Capability "log". */
export function log(level: LogLevel, message: string): void {
  const b = String.UTF8.encode(message);
  host_log(<i32>level, changetype<usize>(b), <usize>b.byteLength);
}

/** clockNow returns the wall-clock time in Unix nanoseconds. Capability "clock". */
export function clockNow(): i64 {
  return host_clock_now();
}

/** randomU64 returns the next number of the host's generator, seeded from the run's seed. Capability "random". */
export function randomU64(): u64 {
  return <u64>host_random_u64();
}

/** metric records the gauge swarm_plugin_metric{plugin,name}. Capability "metrics". */
export function metric(name: string, value: f64): void {
  const b = String.UTF8.encode(name);
  host_metric(changetype<usize>(b), <usize>b.byteLength, value);
}

/**
 * llmComplete sends an OpenAI-compatible chat completion request (JSON) and
 * returns the response JSON (an {"error":{...}} object when it failed), or
 * "" when the host could not answer at all. Capability "llm".
 */
export function llmComplete(requestJSON: string): string {
  const req = String.UTF8.encode(requestJSON);
  const r = host_llm_complete(changetype<usize>(req), <usize>req.byteLength);
  const ptr = <usize>(<u64>r >> 32);
  const len = <usize>(<u64>r & 0xffffffff);
  if (ptr == 0) return "";
  // The host wrote the response into a buffer from swarm_alloc: read it
  // and release it.
  const buf = heldBuffer(ptr, len);
  if (!buf) return "";
  const s = String.UTF8.decodeUnsafe(ptr, len);
  release(ptr);
  return s;
}
