//go:build wasip1

//lint:file-ignore U1000 the functions are called by the host through //go:wasmexport

package trust

import (
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/internal/guest"
)

//go:wasmexport swarm_trust_score
func trustScore(ptr, n uint32) uint64 {
	return guest.Call(ptr, n, sdk.OpTrustScore, sdk.Handle)
}
