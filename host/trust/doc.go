// Package trust keeps the evidence about agent and plugin versions and turns
// it into trust scores.
//
// A Log is an append-only record of evidence per Subject (an agent or plugin
// version): task results, canary verdicts, policy violations, crashes, OOMs,
// plugin traps and timeouts, signatures, calls between agents. Records get a
// sequence number per subject and are never updated or deleted; they live in
// badger under keys prefixed "trust/".
//
// A Scorer turns a subject's evidence into a TrustScore (score, uncertainty,
// lower bound, all in [0, 1]); PluginScorer runs a Wasm trust plugin
// (sdk-wasm/ABI.md, kind trust) through host/plugin. A Service ties the two:
// it reads the whole log, scores it at a time the caller fixes (so replaying
// the log reproduces the score), clamps results outside [0, 1], and when the
// scorer fails keeps the previous score and appends the failure as evidence
// against the scorer's own plugin version. Admit and Rank gate and order
// subjects by the lower bound.
package trust
