// Package strategy registers a Go strategy plugin. Importing it adds the
// strategy operation exports (swarm_strategy_init, _propose, _observe,
// _snapshot, _restore) to a wasip1 module, and only those: a plugin imports
// exactly one of sdk-wasm/strategy, sdk-wasm/trust and sdk-wasm/personality.
package strategy

import sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"

// Register makes f the plugin's strategy factory; call it from an init
// function of the plugin's main package (a reactor never runs main). Each
// swarm_strategy_init and swarm_strategy_restore gets a fresh instance from f.
func Register(f func() sdk.Strategy) { sdk.RegisterStrategy(f) }
