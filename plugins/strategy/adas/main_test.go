package main

import (
	"testing"

	"github.com/stratoswarm/stratoswarm/sdk-wasm/evo/evotest"
)

// The plugin as the host drives it: registration in init, envelopes, and
// restore on a fresh registration in the smoke workload's shape.
func TestThroughTheDispatcher(t *testing.T) { evotest.ThroughTheDispatcher(t, register) }
