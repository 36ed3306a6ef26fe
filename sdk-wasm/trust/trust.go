// Package trust registers a Go trust-scorer plugin. Importing it adds the
// trust operation export (swarm_trust_score) to a wasip1 module, and only
// that: a plugin imports exactly one of sdk-wasm/strategy, sdk-wasm/trust and
// sdk-wasm/personality.
package trust

import sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"

// Register makes f the plugin's trust-scorer factory; call it from an init
// function of the plugin's main package (a reactor never runs main). f is
// called once, on the first swarm_trust_score.
func Register(f func() sdk.TrustScorer) { sdk.RegisterTrust(f) }
