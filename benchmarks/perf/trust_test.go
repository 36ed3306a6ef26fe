package perf

import (
	"context"
	"fmt"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/betadist"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/host/plugin"
	"github.com/stratoswarm/stratoswarm/host/plugin/builtin"
	"github.com/stratoswarm/stratoswarm/host/trust"
)

// BenchmarkTrustScoring scores 10,000 agents, each with 20 evidence
// records in the trust log, four ways in the same run: Service.Score (the
// whole log read from badger, then the scorer) through the built-in beta
// plugin on wazero and through a native Go implementation of the same
// formula (nativeBeta below, the plugin's code compiled for the host); and
// the two scorers alone on evidence already read. One op scores one agent
// (round robin over the 10,000), so `make bench`'s -benchtime 20000x
// scores each agent twice. Before timing, every agent's plugin score is
// checked against the native one. Metrics: agents/s of each path and the
// ratios plugin/native of the time per agent.
func BenchmarkTrustScoring(b *testing.B) {
	const agents, perAgent = 10000, 20
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l, err := trust.OpenLog(trust.LogOptions{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{trust.EvidenceTask, trust.EvidenceTask, trust.EvidenceTask, trust.EvidenceCanary, trust.EvidencePolicy, trust.EvidenceCrash}
	subjects := make([]trust.Subject, agents)
	t0 := time.Now()
	for i := range subjects {
		subjects[i] = trust.Subject{Kind: trust.SubjectAgent, Name: fmt.Sprintf("agent-%05d", i), Version: "1.0.0"}
		es := make([]trust.Evidence, perAgent)
		for j := range es {
			es[j] = trust.Evidence{
				Time: now.Add(-time.Duration(rng.IntN(30*24*3600)) * time.Second), Kind: kinds[rng.IntN(len(kinds))],
				Positive: rng.IntN(4) > 0, Weight: 0.5 + rng.Float64(), Source: "bench",
			}
		}
		if _, err := l.Append(ctx, subjects[i], es...); err != nil {
			b.Fatal(err)
		}
	}
	appendTime := time.Since(t0)

	wasm, err := fs.ReadFile(builtin.FS(), "trust-beta.wasm")
	if err != nil {
		b.Fatalf("the built-in beta plugin is missing (make plugins first): %v", err)
	}
	h, err := plugin.NewHost(ctx, plugin.Options{CacheDir: filepath.Join(os.TempDir(), "stratoswarm-bench-wasm-cache")})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(ctx)
	p, err := h.Load(ctx, wasm, plugin.Config{ID: "beta@1.0.0", Kind: plugin.KindTrust, MaxInstances: 1})
	if err != nil {
		b.Fatal(err)
	}
	wasmScorer, err := trust.NewPluginScorer(p, nil)
	if err != nil {
		b.Fatal(err)
	}
	goScorer := nativeBeta{halfLifeSeconds: 7 * 24 * 3600}
	viaPlugin, err := trust.NewService(trust.ServiceOptions{Log: l, Scorer: wasmScorer})
	if err != nil {
		b.Fatal(err)
	}
	viaNative, err := trust.NewService(trust.ServiceOptions{Log: l, Scorer: goScorer, ScorerSubject: trust.Subject{Kind: trust.SubjectPlugin, Name: "native-beta", Version: "1.0.0"}})
	if err != nil {
		b.Fatal(err)
	}
	requests := make([]trust.ScoreRequest, agents)
	maxDiff := 0.0
	for i, s := range subjects {
		ev, err := l.List(ctx, s, 0)
		if err != nil {
			b.Fatal(err)
		}
		requests[i] = trust.ScoreRequest{Subject: s, Now: now, Evidence: ev}
		a, errA := viaPlugin.Score(ctx, s, now)
		n, errN := viaNative.Score(ctx, s, now)
		if errA != nil || errN != nil || a.Stale || a.Clamped || a.Seq != perAgent {
			b.Fatalf("%s: plugin %+v %v, native %v", s, a, errA, errN)
		}
		for _, d := range []float64{a.Score - n.Score, a.Uncertainty - n.Uncertainty, a.LowerBound - n.LowerBound} {
			maxDiff = math.Max(maxDiff, math.Abs(d))
		}
	}
	if maxDiff > 1e-12 {
		b.Fatalf("the plugin and the native formula disagree by up to %g", maxDiff)
	}
	setup := fmt.Sprintf("setup: %d agents × %d records appended in %v (%.0f records/s); plugin and native scores agree to %g",
		agents, perAgent, appendTime.Round(time.Millisecond), agents*perAgent/appendTime.Seconds(), maxDiff)

	b.Run(fmt.Sprintf("%d-agents", agents), func(b *testing.B) {
		paths := []func(i int) error{
			func(i int) error { _, err := viaPlugin.Score(ctx, subjects[i%agents], now); return err },
			func(i int) error { _, err := viaNative.Score(ctx, subjects[i%agents], now); return err },
			func(i int) error { _, err := wasmScorer.Score(ctx, requests[i%agents]); return err },
			func(i int) error { _, err := goScorer.Score(ctx, requests[i%agents]); return err },
		}
		ns := make([]float64, len(paths))
		b.ResetTimer()
		for k, path := range paths {
			start := time.Now()
			for i := range b.N {
				if err := path(i); err != nil {
					b.Fatal(err)
				}
			}
			ns[k] = float64(time.Since(start).Nanoseconds()) / float64(b.N)
		}
		b.StopTimer()
		perSecond := func(ns float64) float64 { return 1e9 / ns }
		b.ReportMetric(perSecond(ns[0]), "plugin-agents/s")
		b.ReportMetric(perSecond(ns[1]), "native-agents/s")
		b.ReportMetric(ns[0]/ns[1], "ratio")
		b.ReportMetric(perSecond(ns[2]), "plugin-scorer-agents/s")
		b.ReportMetric(perSecond(ns[3]), "native-scorer-agents/s")
		b.ReportMetric(ns[2]/ns[3], "scorer-ratio")
		b.Log(setup)
		b.Logf("n=%d: Service.Score via the beta plugin %.1f µs/agent (%.0f agents/s), via native Go %.1f µs (%.0f/s): %.2fx; "+
			"scorer alone: plugin %.1f µs (%.0f/s), native %.1f µs (%.0f/s): %.2fx",
			b.N, ns[0]/1e3, perSecond(ns[0]), ns[1]/1e3, perSecond(ns[1]), ns[0]/ns[1],
			ns[2]/1e3, perSecond(ns[2]), ns[3]/1e3, perSecond(ns[3]), ns[2]/ns[3])
	})
}

// nativeBeta is plugins/trust/beta's formula compiled for the host (the
// same code: decayed weights summed in sorted order, the Beta mean, 2/(a+b)
// and the 5% quantile by bisection on the continued fraction).
type nativeBeta struct{ halfLifeSeconds float64 }

func (n nativeBeta) Score(_ context.Context, req trust.ScoreRequest) (trust.TrustScore, error) {
	var pos, neg []float64
	for _, e := range req.Evidence {
		w := e.Weight * math.Exp2(-math.Max(0, req.Now.Sub(e.Time).Seconds())/n.halfLifeSeconds)
		if e.Positive {
			pos = append(pos, w)
		} else {
			neg = append(neg, w)
		}
	}
	a, b := sortedSum(pos)+1, sortedSum(neg)+1
	return trust.TrustScore{Score: a / (a + b), Uncertainty: 2 / (a + b), LowerBound: betadist.Quantile(0.05, a, b)}, nil
}

func sortedSum(v []float64) float64 {
	slices.Sort(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum
}
