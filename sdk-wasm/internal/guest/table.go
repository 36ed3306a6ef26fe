// Package guest is the wasm side of the buffer handling of ABI.md §1: it keeps
// every buffer handed to the host reachable until the host frees it, and runs
// an operation from a (ptr, len) request to a ptr<<32|len response.
//
// The table logic is portable and tested natively; the package-level table and
// the functions the exports call are in guest_wasip1.go.
package guest

import "unsafe"

// Table pins buffers by address. Go's garbage collector does not move objects,
// so a buffer stays at its address as long as it is reachable; the table is
// what keeps it reachable while only the host holds its address.
type Table struct {
	bufs map[uintptr][]byte
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{bufs: make(map[uintptr][]byte)}
}

// Alloc returns the address of a new zeroed, pinned buffer of n bytes. A
// request for 0 bytes gets a 1-byte buffer, so every address is distinct and
// non-zero.
func (t *Table) Alloc(n int) uintptr {
	if n < 1 {
		n = 1
	}
	return t.Pin(make([]byte, n))
}

// Pin keeps buf reachable until Free and returns its address; buf must not be
// empty.
func (t *Table) Pin(buf []byte) uintptr {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	t.bufs[p] = buf
	return p
}

// Bytes returns the first n bytes of the pinned buffer at ptr; ok is false
// when ptr is not the address of a pinned buffer or the buffer is shorter
// than n.
func (t *Table) Bytes(ptr uintptr, n int) (buf []byte, ok bool) {
	b, ok := t.bufs[ptr]
	if !ok || n < 0 || n > len(b) {
		return nil, false
	}
	return b[:n], true
}

// Free unpins the buffer at ptr; it reports whether there was one. Freeing an
// unknown address does nothing.
func (t *Table) Free(ptr uintptr) bool {
	_, ok := t.bufs[ptr]
	delete(t.bufs, ptr)
	return ok
}

// Len returns the number of pinned buffers.
func (t *Table) Len() int { return len(t.bufs) }
