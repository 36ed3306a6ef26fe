//go:build !wasip1

package sdk

// hostComplete is the native default: no host, no LLM.
func hostComplete([]byte) ([]byte, error) { return nil, ErrNoLLM }
