// The exports of a strategy plugin. A plugin's entry file re-exports them
// all:
//
//   export * from "@stratoswarm/sdk-as/assembly/strategy";
//
// and registers its factory with registerStrategy (from the package's
// index). Only ABI exports live here.

import { serve } from "./abi";
import { strategyRunner } from "./strategykind";

export { swarm_abi_v1, swarm_alloc, swarm_free } from "./abi";

/** swarm_strategy_init: InitRequest → {} (ABI.md §1, §3). */
export function swarm_strategy_init(ptr: u32, len: u32): u64 {
  return serve(ptr, len, strategyRunner(0));
}

/** swarm_strategy_propose: ProposeRequest → ProposeResult. */
export function swarm_strategy_propose(ptr: u32, len: u32): u64 {
  return serve(ptr, len, strategyRunner(1));
}

/** swarm_strategy_observe: ObserveRequest → {}. */
export function swarm_strategy_observe(ptr: u32, len: u32): u64 {
  return serve(ptr, len, strategyRunner(2));
}

/** swarm_strategy_snapshot: {} → Snapshot. */
export function swarm_strategy_snapshot(ptr: u32, len: u32): u64 {
  return serve(ptr, len, strategyRunner(3));
}

/** swarm_strategy_restore: Snapshot → {}. */
export function swarm_strategy_restore(ptr: u32, len: u32): u64 {
  return serve(ptr, len, strategyRunner(4));
}
