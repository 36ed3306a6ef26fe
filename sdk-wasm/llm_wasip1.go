//go:build wasip1

package sdk

import (
	"errors"
	"unsafe"

	"github.com/stratoswarm/stratoswarm/sdk-wasm/internal/guest"
)

// llmComplete is swarm:host/v1.llm_complete (ABI.md §4). Referencing it
// adds the import to the module, so a plugin that calls Complete must list
// llm in its manifest's capabilities or optional_capabilities.
//
//go:wasmimport swarm:host/v1 llm_complete
func llmComplete(ptr, n uint32) uint64

// hostComplete sends request to the host and takes the response the host
// wrote into a buffer from swarm_alloc.
func hostComplete(request []byte) ([]byte, error) {
	if len(request) == 0 {
		return nil, errors.New("llm: empty request")
	}
	res := llmComplete(uint32(uintptr(unsafe.Pointer(&request[0]))), uint32(len(request)))
	ptr, n := uint32(res>>32), uint32(res)
	if ptr == 0 {
		return nil, errors.New("llm: the host returned no response")
	}
	resp, ok := guest.Take(ptr, n)
	if !ok {
		return nil, errors.New("llm: the host returned a buffer it did not allocate")
	}
	return resp, nil
}
