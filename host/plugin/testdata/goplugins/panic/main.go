//go:build wasip1

// Command panic is a hostile trust plugin in plain Go (no SDK), built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. Its request picks
// the behaviour: "panic" panics without recovering (the Go runtime aborts
// the instance), "recover" panics and answers the "panic" error envelope an
// SDK would send, anything else is echoed as the result.
package main

import "unsafe"

// buffers keeps what swarm_alloc handed out alive until swarm_free.
var buffers = map[uint32][]byte{}

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
	case `"panic"`:
		panic("the hostile plugin panics")
	case `"recover"`:
		return recovered()
	}
	return answer(`{"v":1,"result":` + req + `}`)
}

func recovered() (out uint64) {
	defer func() {
		if r := recover(); r != nil {
			out = answer(`{"v":1,"error":{"code":"panic","message":"index out of range"}}`)
		}
	}()
	var s []int
	i := 3
	return uint64(s[i])
}

func main() {}
