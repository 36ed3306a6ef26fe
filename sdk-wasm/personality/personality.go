// Package personality registers a Go personality plugin. Importing it adds the
// personality operation export (swarm_personality_adjust) to a wasip1 module,
// and only that: a plugin imports exactly one of sdk-wasm/strategy,
// sdk-wasm/trust and sdk-wasm/personality.
package personality

import sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"

// Register makes f the plugin's personality factory; call it from an init
// function of the plugin's main package (a reactor never runs main). f is
// called once, on the first swarm_personality_adjust.
func Register(f func() sdk.Personality) { sdk.RegisterPersonality(f) }
