//go:build wasip1

// Command loop is a hostile trust plugin in plain Go (no SDK), built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. Its request picks
// the behaviour: "loop" spins in `for {}` forever, "oom" allocates until
// the Go runtime runs out of memory, anything else is echoed as the result.
package main

import (
	"runtime"
	"unsafe"
)

// buffers keeps what swarm_alloc handed out alive until swarm_free.
var buffers = map[uint32][]byte{}

// hoard keeps the "oom" allocations alive.
var hoard [][]byte

//go:wasmexport swarm_abi_v1
func abiV1() {}

//go:wasmexport swarm_alloc
func alloc(n uint32) uint32 {
	b := make([]byte, max(n, 1))
	p := uint32(uintptr(unsafe.Pointer(&b[0])))
	buffers[p] = b
	return p
}

//go:wasmexport swarm_free
func free(p, n uint32) { delete(buffers, p) }

func answer(s string) uint64 {
	p := alloc(uint32(len(s)))
	copy(buffers[p], s)
	return uint64(p)<<32 | uint64(len(s))
}

//go:wasmexport swarm_trust_score
func score(p, n uint32) uint64 {
	req := string(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p))), n))
	switch req {
	case `"loop"`:
		for {
		}
	case `"oom"`:
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	}
	out := answer(`{"v":1,"result":` + req + `}`)
	// Let the GC's background worker run, as the SDK does: no goroutine
	// runs after an export returns, so without this a GC cycle may never
	// finish and memory grows with every call.
	runtime.Gosched()
	return out
}

func main() {}
