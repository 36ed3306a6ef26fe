// The exports of a trust plugin. A plugin's entry file re-exports them all:
//
//   export * from "@stratoswarm/sdk-as/assembly/trust";
//
// and registers its scorer with registerTrust (from the package's index).
// Only ABI exports live here, so that `export *` adds nothing else.

import { serve } from "./abi";
import { currentTrustRunner } from "./kinds";

export { swarm_abi_v1, swarm_alloc, swarm_free } from "./abi";

/** swarm_trust_score: ScoreRequest → TrustScore (ABI.md §1, §3). */
export function swarm_trust_score(ptr: u32, len: u32): u64 {
  return serve(ptr, len, currentTrustRunner());
}
