// The exports of a personality plugin. A plugin's entry file re-exports
// them all:
//
//   export * from "@stratoswarm/sdk-as/assembly/personality";
//
// and registers its implementation with registerPersonality (from the
// package's index). Only ABI exports live here.

import { serve } from "./abi";
import { currentPersonalityRunner } from "./kinds";

export { swarm_abi_v1, swarm_alloc, swarm_free } from "./abi";

/** swarm_personality_adjust: AdjustRequest → Adjustment (ABI.md §1, §3). */
export function swarm_personality_adjust(ptr: u32, len: u32): u64 {
  return serve(ptr, len, currentPersonalityRunner());
}
