//go:build wasip1

//lint:file-ignore U1000 the functions are called by the host through //go:wasmexport

package sdk

import "github.com/stratoswarm/stratoswarm/sdk-wasm/internal/guest"

// The exports every plugin has (ABI.md §1). The operation exports live in the
// kind packages (sdk-wasm/strategy, sdk-wasm/trust, sdk-wasm/personality), so
// a module exports only its own kind's operations.

// swarmABIV1 is the version marker; the host never calls it.
//
//go:wasmexport swarm_abi_v1
func swarmABIV1() {}

// swarmAlloc returns n writable bytes, pinned until swarm_free, or 0.
//
//go:wasmexport swarm_alloc
func swarmAlloc(n uint32) uint32 { return guest.Alloc(n) }

// swarmFree releases a buffer from swarm_alloc or an operation's response.
//
//go:wasmexport swarm_free
func swarmFree(ptr, n uint32) { guest.Free(ptr, n) }
