package resources

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/runtime/container"
)

func TestLimitsMapsEveryField(t *testing.T) {
	got := Limits(&v1.ResourceList{CpuMillis: 1500, MemoryBytes: 64 << 20, Pids: 32, TierBytes: map[string]int64{"cpu": 64 << 20, "nvme": 10 << 30}})
	want := container.Limits{MemoryBytes: 64 << 20, CPUs: 1.5, Pids: 32, Tiers: map[container.Tier]int64{container.TierCPU: 64 << 20, container.TierNVMe: 10 << 30}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := Limits(nil); !reflect.DeepEqual(got, container.Limits{}) {
		t.Errorf("nil: %+v", got)
	}
	if got := Limits(&v1.ResourceList{Pids: 1}); got.Tiers != nil {
		t.Errorf("no tier_bytes gave tiers %v", got.Tiers)
	}
}

func TestCheck(t *testing.T) {
	for _, r := range []*v1.ResourceList{
		nil,
		{},
		{CpuMillis: 10, MemoryBytes: 1, Pids: 1},
		{MemoryBytes: 512 << 20, TierBytes: map[string]int64{"cpu": 512 << 20, "gpu": 1, "nvme": 2, "ssd": 3, "hdd": 4}},
	} {
		if err := Check(r); err != nil {
			t.Errorf("%v: %v", r, err)
		}
	}
	for _, c := range []struct {
		r            *v1.ResourceList
		field, words string
	}{
		{&v1.ResourceList{CpuMillis: -1}, "cpu_millis", "must not be negative"},
		{&v1.ResourceList{CpuMillis: 9}, "cpu_millis", "smallest CPU quota"},
		{&v1.ResourceList{MemoryBytes: -1}, "memory_bytes", "must not be negative"},
		{&v1.ResourceList{Pids: -1}, "pids", "must not be negative"},
		{&v1.ResourceList{Gpus: -1}, "gpus", "must not be negative"},
		{&v1.ResourceList{Gpus: 1}, "gpus", "not supported"},
		{&v1.ResourceList{TierBytes: map[string]int64{"xyz": 1}}, `tier_bytes["xyz"]`, `unknown tier "xyz": the tiers are gpu, cpu, nvme, ssd, hdd`},
		{&v1.ResourceList{TierBytes: map[string]int64{"nvme": -5}}, `tier_bytes["nvme"]`, "-5 must not be negative"},
		{&v1.ResourceList{MemoryBytes: 64 << 20, TierBytes: map[string]int64{"cpu": 32 << 20}}, `tier_bytes["cpu"]`, "drop memory_bytes"},
	} {
		err := Check(c.r)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(fe.Msg, c.words) {
			t.Errorf("%v: got %v, want field %s with %q", c.r, err, c.field, c.words)
		}
	}
}
