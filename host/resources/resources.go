// Package resources maps the API's ResourceList onto container limits and
// checks it, one way for containers and for evolutions' candidates.
package resources

import (
	"errors"
	"fmt"
	"strconv"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// MinCPUMillis is the smallest CPU quota the kernel enforces: 10
// thousandths of a core (1 ms per 100 ms period).
const MinCPUMillis = 10

// FieldError is a ResourceList field that Check refuses.
type FieldError struct {
	// Field is the field's path within the ResourceList, e.g.
	// "memory_bytes" or `tier_bytes["xyz"]`.
	Field string
	// Msg says what is wrong and what to do.
	Msg string
}

// Error names the field and says what is wrong.
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Limits returns the container limits r asks for: cpu_millis as cores,
// memory_bytes, pids and tier_bytes. A nil r asks for none. It does not
// check r; Check does.
func Limits(r *v1.ResourceList) container.Limits {
	l := container.Limits{
		MemoryBytes: r.GetMemoryBytes(),
		CPUs:        float64(r.GetCpuMillis()) / 1000,
		Pids:        r.GetPids(),
	}
	if len(r.GetTierBytes()) > 0 {
		l.Tiers = make(map[container.Tier]int64, len(r.GetTierBytes()))
		for k, v := range r.GetTierBytes() {
			l.Tiers[container.Tier(k)] = v
		}
	}
	return l
}

// Check validates r (nil is valid: no limits): no negative amount, a CPU
// quota of at least MinCPUMillis, no GPUs (containers cannot have them
// yet), tier_bytes keyed by known tiers, and memory_bytes and the cpu tier
// not both set to different values. The error is a *FieldError.
func Check(r *v1.ResourceList) error {
	for _, f := range []struct {
		field string
		v     int64
	}{
		{"cpu_millis", r.GetCpuMillis()},
		{"memory_bytes", r.GetMemoryBytes()},
		{"pids", r.GetPids()},
		{"gpus", int64(r.GetGpus())},
	} {
		if f.v < 0 {
			return &FieldError{Field: f.field, Msg: fmt.Sprintf("%d must not be negative (0 means no limit)", f.v)}
		}
	}
	if m := r.GetCpuMillis(); m > 0 && m < MinCPUMillis {
		return &FieldError{Field: "cpu_millis", Msg: fmt.Sprintf("%d is below the kernel's smallest CPU quota, %d (0.01 cores)", m, MinCPUMillis)}
	}
	if r.GetGpus() > 0 {
		return &FieldError{Field: "gpus", Msg: "GPUs are not supported for containers yet; set 0"}
	}
	if q, m := r.GetTierBytes()[string(container.TierCPU)], r.GetMemoryBytes(); q > 0 && m > 0 && q != m {
		return &FieldError{Field: `tier_bytes["cpu"]`, Msg: fmt.Sprintf("%d differs from memory_bytes (%d), and both set the cgroup memory limit: drop memory_bytes (the cpu tier quota replaces it) or give both the same value", q, m)}
	}
	err := Limits(r).Validate()
	var le *container.LimitError
	if err == nil || !errors.As(err, &le) {
		return err
	}
	switch le.Field {
	case "Tiers":
		return &FieldError{Field: "tier_bytes[" + strconv.Quote(string(le.Tier)) + "]", Msg: le.Msg}
	case "MemoryBytes":
		return &FieldError{Field: "memory_bytes", Msg: le.Msg}
	case "Pids":
		return &FieldError{Field: "pids", Msg: le.Msg}
	case "CPUs":
		return &FieldError{Field: "cpu_millis", Msg: le.Msg}
	}
	return &FieldError{Field: le.Field, Msg: le.Msg}
}
