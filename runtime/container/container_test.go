package container

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestMemoryPrefersTheCPUTier(t *testing.T) {
	for _, c := range []struct {
		l    Limits
		want int64
	}{
		{Limits{}, 0},
		{Limits{MemoryBytes: 64 << 20}, 64 << 20},
		{Limits{Tiers: map[Tier]int64{TierCPU: 32 << 20}}, 32 << 20},
		{Limits{MemoryBytes: 32 << 20, Tiers: map[Tier]int64{TierCPU: 32 << 20}}, 32 << 20},
		{Limits{MemoryBytes: 64 << 20, Tiers: map[Tier]int64{TierNVMe: 1 << 30}}, 64 << 20},
		{Limits{MemoryBytes: 64 << 20, Tiers: map[Tier]int64{TierCPU: 0}}, 64 << 20},
	} {
		if got := c.l.Memory(); got != c.want {
			t.Errorf("%+v.Memory() = %d, want %d", c.l, got, c.want)
		}
	}
}

func TestValidateAcceptsGoodLimits(t *testing.T) {
	for _, l := range []Limits{
		{},
		{MemoryBytes: 1, CPUs: 0.5, Pids: 10},
		{Tiers: map[Tier]int64{TierGPU: 1, TierCPU: 2, TierNVMe: 3, TierSSD: 4, TierHDD: 5}},
		{MemoryBytes: 512 << 20, Tiers: map[Tier]int64{TierCPU: 512 << 20}},
		{MemoryBytes: 512 << 20, Tiers: map[Tier]int64{TierCPU: 0, TierSSD: 0}},
	} {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, c := range []struct {
		l     Limits
		field string
		tier  Tier
		want  string
	}{
		{Limits{MemoryBytes: -1}, "MemoryBytes", "", "must not be negative"},
		{Limits{CPUs: -0.5}, "CPUs", "", "must not be negative"},
		{Limits{CPUs: math.NaN()}, "CPUs", "", "not a finite number"},
		{Limits{CPUs: math.Inf(1)}, "CPUs", "", "not a finite number"},
		{Limits{Pids: -3}, "Pids", "", "must not be negative"},
		{Limits{Tiers: map[Tier]int64{"xyz": 1}}, "Tiers", "xyz", `unknown tier "xyz": the tiers are gpu, cpu, nvme, ssd, hdd`},
		{Limits{Tiers: map[Tier]int64{"CPU": 1}}, "Tiers", "CPU", "unknown tier"},
		{Limits{Tiers: map[Tier]int64{TierSSD: -1}}, "Tiers", TierSSD, "must not be negative"},
		// the first bad key in sorted order, every time
		{Limits{Tiers: map[Tier]int64{"zzz": 1, TierHDD: -1, "aaa": 1}}, "Tiers", "aaa", "unknown tier"},
		{Limits{MemoryBytes: 64 << 20, Tiers: map[Tier]int64{TierCPU: 32 << 20}}, "Tiers", TierCPU, "drop the memory limit"},
	} {
		err := c.l.Validate()
		var le *LimitError
		if !errors.As(err, &le) {
			t.Errorf("%+v: got %v, want a *LimitError", c.l, err)
			continue
		}
		if le.Field != c.field || le.Tier != c.tier || !strings.Contains(le.Msg, c.want) {
			t.Errorf("%+v: got %+v, want field %s tier %q and a message containing %q", c.l, le, c.field, c.tier, c.want)
		}
		if c.field == "Tiers" && !strings.Contains(err.Error(), `Tiers["`+string(c.tier)+`"]`) {
			t.Errorf("%+v: error %q does not name the tier", c.l, err)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	d := Limits{MemoryBytes: 512 << 20, CPUs: 1, Pids: 128, Tiers: map[Tier]int64{TierNVMe: 1 << 30}}
	for _, c := range []struct {
		name string
		l    Limits
		want Limits
	}{
		{"zero takes every default", Limits{}, d},
		{"set fields win", Limits{MemoryBytes: 64 << 20, CPUs: 0.5, Pids: 8, Tiers: map[Tier]int64{TierNVMe: 2 << 30, TierSSD: 1}},
			Limits{MemoryBytes: 64 << 20, CPUs: 0.5, Pids: 8, Tiers: map[Tier]int64{TierNVMe: 2 << 30, TierSSD: 1}}},
		{"a cpu tier quota replaces the default memory limit", Limits{Tiers: map[Tier]int64{TierCPU: 256 << 20}},
			Limits{CPUs: 1, Pids: 128, Tiers: map[Tier]int64{TierCPU: 256 << 20, TierNVMe: 1 << 30}}},
		{"zero entries are unset", Limits{Tiers: map[Tier]int64{TierNVMe: 0, TierCPU: 0}}, d},
	} {
		got := c.l.WithDefaults(d)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s: merged limits do not validate: %v", c.name, err)
		}
	}
	// A default cpu tier quota does not stand beside a memory limit of l's.
	got := Limits{MemoryBytes: 64 << 20}.WithDefaults(Limits{Tiers: map[Tier]int64{TierCPU: 512 << 20}})
	if got.Memory() != 64<<20 || got.Validate() != nil {
		t.Errorf("memory limit over a default cpu tier: %+v (memory %d, %v)", got, got.Memory(), got.Validate())
	}
	if got := (Limits{}).WithDefaults(Limits{}); got.Tiers != nil {
		t.Errorf("no tiers on either side gave %+v", got.Tiers)
	}
}

func TestKnownTiers(t *testing.T) {
	for _, tier := range KnownTiers() {
		if !tier.Known() {
			t.Errorf("%s is listed but not known", tier)
		}
	}
	if Tier("ram").Known() || Tier("").Known() {
		t.Error("an unknown tier is known")
	}
	KnownTiers()[0] = "x"
	if KnownTiers()[0] != TierGPU {
		t.Error("KnownTiers shares its slice")
	}
}
