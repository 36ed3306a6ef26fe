// @stratoswarm/sdk-as: write Stratoswarm plugins (ABI v1, sdk-wasm/ABI.md)
// in AssemblyScript against typed classes, without pointers or envelopes.
//
// A plugin's entry file re-exports the ABI exports of its kind and
// registers its implementation at the top level:
//
//   export * from "@stratoswarm/sdk-as/assembly/trust";
//   import { registerTrust, ScoreRequest, TrustScore, PluginError } from "@stratoswarm/sdk-as/assembly";
//
//   function score(req: ScoreRequest, out: TrustScore): PluginError | null { ... }
//   registerTrust(score);
//
// See README.md for building, the runtime choice and what traps.

// The exports every plugin has (ABI.md §1): the version marker and the
// allocator pair. The kind files (trust.ts, personality.ts, strategy.ts)
// re-export them beside their operations.
export { swarm_abi_v1, swarm_alloc, swarm_free, MAX_ALLOC, Runner } from "./abi";

// Errors with envelope codes.
export {
  PluginError, invalid, failed, unimplemented,
  CODE_INVALID, CODE_FAILED, CODE_PANIC, CODE_UNIMPLEMENTED,
} from "./errors";

// JSON reader and writer.
export {
  JSONValue, JSONKind, JSONWriter, ByteBuffer, MAX_JSON_DEPTH,
  parseJSON, parseJSONBytes, jsonError, formatNumber,
} from "./json";

// Lenient field decoding and RFC 3339 times.
export { Fields, parseTime } from "./decode";

// Schemas.
export {
  SCHEMA_VERSION,
  Evidence, ScoreRequest, TrustScore,
  AdjustRequest, Adjustment,
} from "./schema";

// Strategies: search spaces, genomes, a seeded generator, the schemas and
// the Strategy base class.
export {
  Parameter, SearchSpace, decodeSearchSpace, Gene, GeneKind, Genome, Rand,
  TYPE_FLOAT, TYPE_INT, TYPE_CATEGORICAL, TYPE_BOOL, TYPE_SEQUENCE, TYPE_TEXT, TYPE_CODE,
} from "./space";
export {
  Objective, InitRequest, Candidate, Result, Strategy, StrategyFactory, registerStrategy,
} from "./strategykind";

// Registration of trust scorers and personalities.
export {
  RawHandler, ScoreFunc, AdjustFunc,
  registerTrust, registerTrustRaw,
  registerPersonality, registerPersonalityRaw,
} from "./kinds";

// Host functions (each needs its capability in plugin.yaml).
export { LogLevel, log, clockNow, randomU64, metric, llmComplete } from "./host";
