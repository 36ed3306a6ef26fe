package trust

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestSubjects(t *testing.T) {
	s, err := ParseSubject("agent/tsp@1.2.0")
	if err != nil || s != (Subject{SubjectAgent, "tsp", "1.2.0"}) || s.String() != "agent/tsp@1.2.0" {
		t.Fatalf("ParseSubject: %+v %v", s, err)
	}
	if p, err := PluginSubject("beta@1.0.0"); err != nil || p.String() != "plugin/beta@1.0.0" {
		t.Fatalf("PluginSubject: %+v %v", p, err)
	}
	for id, want := range map[string]string{
		"tsp@1":                                "want KIND/NAME@VERSION",
		"agent/tsp":                            "want KIND/NAME@VERSION",
		"robot/tsp@1":                          `kind "robot" is unknown`,
		"agent/@1":                             "name is empty",
		"agent/tsp@":                           "version is empty",
		"agent/t sp@1":                         "spaces",
		"agent/a/b@1":                          `holds "/"`,
		"agent/a@1@2":                          `holds "@"`,
		"agent/a\x00b@1":                       "control",
		"plugin/x@" + strings.Repeat("9", 300): "at most 253",
	} {
		if _, err := ParseSubject(id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSubject(%q): %v, want an error containing %q", id, err, want)
		}
	}
	if _, err := PluginSubject("beta"); err == nil || !strings.Contains(err.Error(), "NAME@VERSION") {
		t.Errorf("PluginSubject without a version: %v", err)
	}
}

func TestAppendListAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := OpenLog(LogOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	other := Subject{SubjectPlugin, "beta", "1.0.0"}
	local := time.Date(2026, 11, 25, 13, 0, 0, 5, time.FixedZone("CET", 3600))
	got, err := l.Append(ctx, agent, tasks(2, 1, local)...)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) || !e.Time.Equal(local) || e.Time.Location() != time.UTC {
			t.Fatalf("appended %+v", e)
		}
	}
	mustAppend(t, l, other, Evidence{Time: now, Kind: EvidenceTrap, Weight: 1, Detail: "unreachable", Source: "plugin"})
	call := CallEvidence(now, Subject{SubjectAgent, "a", "1"}, agent, true, 3, "mesh")
	if e := mustAppend(t, l, agent, call); e[0].Seq != 4 {
		t.Fatalf("the call record got seq %d, want 4", e[0].Seq)
	}
	check := func(l *Log) {
		t.Helper()
		all, err := l.List(ctx, agent, 0)
		if err != nil || len(all) != 4 || all[3].Kind != EvidenceCall || all[3].Weight != 3 || all[3].Detail != call.Detail || all[3].Source != "mesh" {
			t.Fatalf("List: %+v %v", all, err)
		}
		since, _ := l.List(ctx, agent, 2)
		if len(since) != 2 || since[0].Seq != 3 || since[1].Seq != 4 {
			t.Fatalf("List since 2: %+v", since)
		}
		if none, _ := l.List(ctx, agent, 4); len(none) != 0 {
			t.Fatalf("List since the last: %+v", none)
		}
		if last, _ := l.Last(ctx, agent); last != 4 {
			t.Fatalf("Last = %d", last)
		}
		subjects, _ := l.Subjects(ctx)
		if len(subjects) != 2 || subjects[0] != agent || subjects[1] != other {
			t.Fatalf("Subjects: %v", subjects)
		}
		calls, _ := l.Calls(ctx)
		if len(calls) != 1 || calls[0].Seq != 4 || calls[0].Detail != call.Detail {
			t.Fatalf("Calls: %+v", calls)
		}
		if trap, _ := l.List(ctx, other, 0); len(trap) != 1 || trap[0].Kind != EvidenceTrap || trap[0].Positive {
			t.Fatalf("other subject: %+v", trap)
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	check(openLog(t, dir))
}

func TestAppendRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, "")
	good := Evidence{Time: now, Kind: EvidenceTask, Positive: true, Weight: 1}
	with := func(f func(*Evidence)) Evidence { e := good; f(&e); return e }
	for _, tc := range []struct {
		e    Evidence
		want string
	}{
		{with(func(e *Evidence) { e.Kind = "rumour" }), `kind "rumour" is unknown`},
		{with(func(e *Evidence) { e.Kind = "" }), "kind"},
		{with(func(e *Evidence) { e.Weight = -1 }), "weight -1"},
		{with(func(e *Evidence) { e.Weight = math.NaN() }), "weight NaN"},
		{with(func(e *Evidence) { e.Weight = math.Inf(1) }), "weight +Inf"},
		{with(func(e *Evidence) { e.Time = time.Time{} }), "time is not set"},
		{with(func(e *Evidence) { e.Seq = 7 }), "leave it 0"},
		{with(func(e *Evidence) { e.Detail = strings.Repeat("x", 5000) }), "at most 4096"},
		{with(func(e *Evidence) { e.Source = strings.Repeat("x", 300) }), "source"},
		{with(func(e *Evidence) { e.Kind = EvidenceCall; e.Detail = "a called b" }), "not the JSON object"},
		{with(func(e *Evidence) { e.Kind = EvidenceCall; e.Detail = `{"from": "agent/a@1"}` }), "to"},
	} {
		// The bad record comes second: nothing of the batch may be written.
		_, err := l.Append(ctx, agent, good, tc.e)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "record 1") {
			t.Errorf("%+v: %v, want an error containing %q", tc.e, err, tc.want)
		}
	}
	if _, err := l.Append(ctx, Subject{SubjectAgent, "", "1"}, good); err == nil || !strings.Contains(err.Error(), "name is empty") {
		t.Errorf("empty name: %v", err)
	}
	if _, err := l.List(ctx, Subject{Kind: "robot", Name: "a", Version: "1"}, 0); err == nil {
		t.Error("List of a bad subject should fail")
	}
	if last, _ := l.Last(ctx, agent); last != 0 {
		t.Fatalf("refused appends wrote %d records", last)
	}
	if out, err := l.Append(ctx, agent); err != nil || out != nil {
		t.Fatalf("an empty append: %v %v", out, err)
	}
}

// Appends from many goroutines, through two Logs over one DB (so that
// badger's conflict detection, not only a lock, keeps Seq unique), number
// every record exactly once.
func TestConcurrentAppendsNumberEachRecordOnce(t *testing.T) {
	ctx := context.Background()
	db, err := badger.Open(badger.DefaultOptions(t.TempDir()).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logs := []*Log{NewLog(db), NewLog(db)}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := Evidence{Time: now, Kind: EvidenceTask, Positive: true, Weight: float64(w*1000 + i)}
				if _, err := logs[w%2].Append(ctx, agent, e); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := logs[0].List(ctx, agent, 0)
	if err != nil || len(all) != writers*each {
		t.Fatalf("%d records, %v", len(all), err)
	}
	seen := map[float64]bool{}
	for i, e := range all {
		if e.Seq != uint64(i+1) || seen[e.Weight] {
			t.Fatalf("record %d: %+v (duplicate or out of sequence)", i, e)
		}
		seen[e.Weight] = true
	}
	if err := logs[0].Close(); err != nil { // not owned: leaves the DB open
		t.Fatal(err)
	}
	if _, err := logs[1].List(ctx, agent, 0); err != nil {
		t.Fatalf("the DB was closed by a Log that does not own it: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	l := openLog(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, agent, tasks(1, 0, now)...); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append: %v", err)
	}
	if _, err := l.Last(ctx, agent); !errors.Is(err, context.Canceled) {
		t.Fatalf("Last: %v", err)
	}
}
