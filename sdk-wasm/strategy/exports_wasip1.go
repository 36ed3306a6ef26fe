//go:build wasip1

//lint:file-ignore U1000 the functions are called by the host through //go:wasmexport

package strategy

import (
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/internal/guest"
)

//go:wasmexport swarm_strategy_init
func strategyInit(ptr, n uint32) uint64 {
	return guest.Call(ptr, n, sdk.OpStrategyInit, sdk.Handle)
}

//go:wasmexport swarm_strategy_propose
func strategyPropose(ptr, n uint32) uint64 {
	return guest.Call(ptr, n, sdk.OpStrategyPropose, sdk.Handle)
}

//go:wasmexport swarm_strategy_observe
func strategyObserve(ptr, n uint32) uint64 {
	return guest.Call(ptr, n, sdk.OpStrategyObserve, sdk.Handle)
}

//go:wasmexport swarm_strategy_snapshot
func strategySnapshot(ptr, n uint32) uint64 {
	return guest.Call(ptr, n, sdk.OpStrategySnapshot, sdk.Handle)
}

//go:wasmexport swarm_strategy_restore
func strategyRestore(ptr, n uint32) uint64 {
	return guest.Call(ptr, n, sdk.OpStrategyRestore, sdk.Handle)
}
