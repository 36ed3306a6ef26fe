package guest

import "testing"

func TestTablePinsUntilFree(t *testing.T) {
	tab := NewTable()
	p := tab.Alloc(16)
	if p == 0 {
		t.Fatal("Alloc returned 0")
	}
	buf, ok := tab.Bytes(p, 16)
	if !ok || len(buf) != 16 {
		t.Fatalf("Bytes(p, 16) = %d bytes, %v", len(buf), ok)
	}
	copy(buf, "hello")
	again, _ := tab.Bytes(p, 5)
	if string(again) != "hello" {
		t.Fatalf("the pinned buffer did not keep what was written: %q", again)
	}
	if _, ok := tab.Bytes(p, 17); ok {
		t.Fatal("Bytes accepted a length beyond the buffer")
	}
	if _, ok := tab.Bytes(p+1, 1); ok {
		t.Fatal("Bytes accepted an address inside a buffer")
	}
	q := tab.Pin([]byte("response"))
	if q == p || tab.Len() != 2 {
		t.Fatalf("Pin: address %v (alloc %v), %d pinned", q, p, tab.Len())
	}
	if !tab.Free(p) || tab.Free(p) {
		t.Fatal("Free should report the first free only")
	}
	if _, ok := tab.Bytes(p, 1); ok {
		t.Fatal("a freed buffer is still readable")
	}
	if !tab.Free(q) || tab.Len() != 0 {
		t.Fatalf("after freeing everything %d buffers are pinned", tab.Len())
	}
}

func TestTableZeroLengthAllocIsDistinct(t *testing.T) {
	tab := NewTable()
	a, b := tab.Alloc(0), tab.Alloc(0)
	if a == 0 || b == 0 || a == b {
		t.Fatalf("zero-length allocations: %v and %v", a, b)
	}
	if buf, ok := tab.Bytes(a, 0); !ok || len(buf) != 0 {
		t.Fatalf("Bytes(a, 0) = %q, %v", buf, ok)
	}
}
