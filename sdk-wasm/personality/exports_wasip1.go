//go:build wasip1

//lint:file-ignore U1000 the functions are called by the host through //go:wasmexport

package personality

import (
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/internal/guest"
)

//go:wasmexport swarm_personality_adjust
func personalityAdjust(ptr, n uint32) uint64 {
	return guest.Call(ptr, n, sdk.OpPersonalityAdjust, sdk.Handle)
}
