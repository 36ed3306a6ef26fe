// echo: a trust plugin whose swarm_trust_score answers the request itself
// as the result, {"v":1,"result":<request>}, like
// host/plugin/testdata/echo.wat. It is the AssemblyScript round-trip guest
// for benchmarks: swarm_alloc, the operation (one copy of the request into
// the response) and swarm_free through the SDK, with no JSON parsing.
//
// The request must be valid JSON for the host to accept the envelope; the
// raw handler checks nothing.

export * from "../../../assembly/trust";
import { registerTrustRaw, JSONWriter, PluginError } from "../../../assembly";

function echo(request: Uint8Array, result: JSONWriter): PluginError | null {
  result.rawBytes(request);
  return null;
}

registerTrustRaw(echo);
