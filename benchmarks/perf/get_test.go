package perf

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/server"
)

// percentile returns the p-th percentile (0-100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

func report(b *testing.B, name string, d []time.Duration) (p50, p99 time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	p50, p99 = percentile(d, 50), percentile(d, 99)
	b.ReportMetric(float64(p50.Nanoseconds()), name+"-p50-ns")
	b.ReportMetric(float64(p99.Nanoseconds()), name+"-p99-ns")
	return p50, p99
}

// BenchmarkGetAgent compares an authenticated unary gRPC GetAgent over
// loopback TCP, served from the store, with a direct badger read and
// unmarshal of the same record: the price of the API on the hot read path.
func BenchmarkGetAgent(b *testing.B) {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = ""
	cfg.NodeName = "bench"
	srv, err := server.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+srv.Token())
	agents := v1.NewAgentServiceClient(conn)
	a, err := agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: &v1.Agent{
		Metadata: &v1.ObjectMeta{Name: "solver", Labels: map[string]string{"team": "bench"}},
		Spec:     &v1.AgentSpec{Image: "tspsolver:latest", Command: []string{"/bin/tspsolver", "--serve"}, Role: "solver"},
	}})
	if err != nil {
		b.Fatal(err)
	}

	// The alternative: the same record in a bare badger, read directly.
	db, err := badger.Open(badger.DefaultOptions(b.TempDir()).WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	raw, _ := proto.Marshal(a)
	key := []byte("o/agents/solver")
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(key, raw) }); err != nil {
		b.Fatal(err)
	}

	ours := make([]time.Duration, 0, b.N)
	direct := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := agents.GetAgent(ctx, &v1.GetAgentRequest{Name: "solver"}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		err := db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(key)
			if err != nil {
				return err
			}
			return item.Value(func(v []byte) error { return proto.Unmarshal(v, &v1.Agent{}) })
		})
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		ours = append(ours, t1.Sub(t0))
		direct = append(direct, t2.Sub(t1))
	}
	b.StopTimer()
	g50, g99 := report(b, "grpc", ours)
	d50, d99 := report(b, "badger", direct)
	b.ReportMetric(float64(g50)/float64(d50), "p50-ratio")
	b.ReportMetric(float64(g99)/float64(d99), "p99-ratio")
	b.Logf("n=%d grpc p50=%v p99=%v | badger p50=%v p99=%v | ratio p50=%.1fx p99=%.1fx",
		b.N, g50, g99, d50, d99, float64(g50)/float64(d50), float64(g99)/float64(d99))
}
