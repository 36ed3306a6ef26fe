// The buffer side of ABI v1 (ABI.md §1): the version marker, the
// allocator pair and the operation wrapper.
//
// Memory management. The SDK is built with AssemblyScript's `minimal`
// runtime: TLSF allocation plus a two-colour mark & sweep collector that
// runs only when called. Every buffer the host holds an address of (a
// request from swarm_alloc, a response) sits in the `held` table, a global
// array, until the host calls swarm_free; being reachable from a global is
// what keeps it alive, exactly like the Go SDK's pin table (the AS objects
// never move). The collector runs at the start of each operation, when no
// AssemblyScript frame is on the stack (the export was called by the host),
// so it only has to trace globals and `held`: the previous call's garbage
// is freed then. Nothing else collects: a host function that calls back
// into swarm_alloc during an operation (llm_complete) is safe.

import { JSONWriter } from "./json";
import { PluginError, invalid, failed, normalizeError } from "./errors";

/** The largest swarm_alloc attempted; larger requests get 0 ("cannot"). */
export const MAX_ALLOC: u32 = (1 << 30) - 256;

/** The buffers the host holds the address of, until swarm_free. */
const held = new Array<ArrayBuffer>();

/** ABI version marker (ABI.md §1). The host never calls it. */
export function swarm_abi_v1(): void {}

/**
 * swarm_alloc returns the address of len writable bytes that stay valid
 * until swarm_free, or 0 when len is over MAX_ALLOC. (Running out of the
 * memory cap traps inside the allocator; the host reports it as memory.)
 */
export function swarm_alloc(len: u32): u32 {
  if (len > MAX_ALLOC) return 0;
  const buf = changetype<ArrayBuffer>(__new(<usize>max<u32>(len, 1), idof<ArrayBuffer>()));
  held.push(buf);
  return <u32>changetype<usize>(buf);
}

/**
 * swarm_free releases a buffer from swarm_alloc or an operation's
 * response. The length is not needed; an unknown address is ignored.
 */
export function swarm_free(ptr: u32, len: u32): void {
  release(<usize>ptr);
}

/** release drops the buffer at ptr from the held table; false if unknown. */
export function release(ptr: usize): bool {
  for (let i = held.length - 1; i >= 0; i--) {
    if (changetype<usize>(unchecked(held[i])) == ptr) {
      const last = held.length - 1;
      if (i != last) unchecked((held[i] = held[last]));
      held.pop();
      return true;
    }
  }
  return false;
}

/** heldBuffer returns the held buffer at ptr if it has at least len bytes. */
export function heldBuffer(ptr: usize, len: usize): ArrayBuffer | null {
  for (let i = held.length - 1; i >= 0; i--) {
    const b = unchecked(held[i]);
    if (changetype<usize>(b) == ptr) return <usize>b.byteLength >= len ? b : null;
  }
  return null;
}

/** The number of buffers the host holds (for tests and diagnostics). */
export function heldCount(): i32 {
  return held.length;
}

/**
 * A Runner answers one operation: it reads the request (UTF-8 JSON bytes)
 * and writes the result JSON into result, or returns an error and leaves
 * result as it is (the SDK discards what it wrote).
 */
export type Runner = (request: Uint8Array, result: JSONWriter) => PluginError | null;

const RESULT_PREFIX = '{"v":1,"result":';

/**
 * serve implements an operation export: it collects garbage, finds the
 * request buffer, runs run and returns the envelope as ptr<<32 | len. The
 * response stays in the held table until the host frees it.
 */
export function serve(ptr: u32, len: u32, run: Runner): u64 {
  __collect();
  // Small at first: a raw handler that copies the request grows it once,
  // to the exact size it needs.
  const w = new JSONWriter(256);
  w.out.ascii(RESULT_PREFIX);
  const prefix = w.length;
  let err: PluginError | null = null;
  const buf = heldBuffer(<usize>ptr, <usize>len);
  if (!buf) {
    err = invalid("the request buffer was not allocated with swarm_alloc or is shorter than its length");
  } else {
    err = run(Uint8Array.wrap(buf, 0, <i32>len), w);
    if (!err) {
      if (w.error != "") err = failed("cannot encode the result: " + w.error);
      else if (w.length == prefix) err = failed("the operation wrote no result");
    }
  }
  if (err) {
    const e = normalizeError(err);
    w.reset();
    w.out.ascii('{"v":1,"error":');
    w.beginObject().key("code").string(e.code).key("message").string(e.message).endObject();
  }
  w.out.byte(0x7d);
  const out = w.out.buf;
  held.push(out);
  return (<u64>changetype<usize>(out) << 32) | <u64>w.length;
}
