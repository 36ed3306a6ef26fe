package server

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/host/deploy"
	"github.com/stratoswarm/stratoswarm/host/trust"
)

type fakeExits struct {
	mu    sync.Mutex
	exits []deploy.Exit
}

func (f *fakeExits) Exits(context.Context) ([]deploy.Exit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]deploy.Exit(nil), f.exits...), nil
}

func (f *fakeExits) add(e deploy.Exit) {
	f.mu.Lock()
	f.exits = append(f.exits, e)
	f.mu.Unlock()
}

// Each replica exit is recorded once against agent/NAME@VERSION: an OOM
// kill as "oom", any other exit as "crash".
func TestReplicaExitsAreEvidence(t *testing.T) {
	l, err := trust.OpenLog(trust.LogOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	src := &fakeExits{}
	at := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	src.add(deploy.Exit{Agent: "solver", Version: "v1", Replica: 0, Container: "solver-v1-0", ExitCode: 137, OOMKilled: true, ExitedAt: at})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchReplicaExits(ctx, src, l, 5*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	v1 := trust.Subject{Kind: trust.SubjectAgent, Name: "solver", Version: "v1"}
	wait := func(n uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if last, _ := l.Last(context.Background(), v1); last >= n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("fewer than %d records", n)
	}
	wait(1)
	src.add(deploy.Exit{Agent: "solver", Version: "v1", Replica: 1, Container: "solver-v1-1", ExitCode: 2, ExitedAt: at.Add(time.Second)})
	wait(2)
	time.Sleep(50 * time.Millisecond) // more polls: nothing twice
	cancel()
	<-done
	ev, _ := l.List(context.Background(), v1, 0)
	if len(ev) != 2 || ev[0].Kind != trust.EvidenceOOM || ev[1].Kind != trust.EvidenceCrash || ev[0].Positive || !ev[0].Time.Equal(at) ||
		ev[0].Source != SourceDeploy || ev[1].Detail != "replica solver-v1-1 of solver@v1 exited with code 2" {
		t.Fatalf("evidence %+v", ev)
	}
}
