//go:build wasip1

package guest

import "runtime"

// pinned is the module's pinned-buffer table: package-level mutable state by
// necessity, since the exports swarm_alloc, swarm_free and the operations are
// plain functions that share it. A wasm module runs on one thread.
var pinned = NewTable()

// maxAlloc is the largest swarm_alloc that is attempted; larger requests get
// 0 ("cannot") instead of an out-of-memory trap.
const maxAlloc = 1 << 30

// Alloc implements swarm_alloc: the address of n writable bytes, or 0.
func Alloc(n uint32) uint32 {
	if n > maxAlloc {
		return 0
	}
	return uint32(pinned.Alloc(int(n)))
}

// Free implements swarm_free: it unpins what Alloc or Call returned. The
// length is not needed, since the table knows each buffer's size.
func Free(ptr, n uint32) {
	pinned.Free(uintptr(ptr))
}

// Call implements an operation export: it reads the request from the buffer
// at ptr (which must come from swarm_alloc), runs handle(op, request), pins
// the response until swarm_free and returns ptr<<32 | len.
func Call(ptr, n uint32, op string, handle func(op string, request []byte) []byte) uint64 {
	var resp []byte
	if req, ok := pinned.Bytes(uintptr(ptr), int(n)); ok {
		resp = handle(op, req)
	} else {
		resp = []byte(`{"v":1,"error":{"code":"invalid","message":"the request buffer was not allocated with swarm_alloc or is shorter than its length"}}`)
	}
	if len(resp) == 0 {
		return 0
	}
	p := pinned.Pin(resp)
	// Let the runtime's background goroutines run before returning. No
	// goroutine runs after an export returns (golang/go#65199), so a GC
	// cycle whose background mark worker never gets the CPU never finishes
	// and the heap grows without bound (seen: 4 MiB to 550 MiB over 24,000
	// calls of the random strategy).
	runtime.Gosched()
	return uint64(p)<<32 | uint64(len(resp))
}

// Take returns a copy of the first n bytes of the pinned buffer at ptr and
// frees it: for responses the host writes into a buffer it got from
// swarm_alloc (llm_complete). ok is false for an unknown buffer.
func Take(ptr, n uint32) ([]byte, bool) {
	b, ok := pinned.Bytes(uintptr(ptr), int(n))
	if !ok {
		return nil, false
	}
	out := append([]byte(nil), b...)
	pinned.Free(uintptr(ptr))
	return out, true
}
