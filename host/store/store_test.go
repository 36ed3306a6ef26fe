package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

func open(t *testing.T, dir string, opts ...func(*Options)) *Store {
	t.Helper()
	o := Options{Dir: dir}
	for _, f := range opts {
		f(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

func agent(name, image string) *v1.Agent {
	return &v1.Agent{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.AgentSpec{Image: image}}
}

func TestCreateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	defer s.Close()
	r := NewRepository[*v1.Agent](s, "agents", true)

	a, created, err := r.Create(ctx, agent("solver", "img:1"), "")
	if err != nil || !created {
		t.Fatalf("first create: created=%v err=%v", created, err)
	}
	if a.Metadata.Uid == "" || a.Metadata.ResourceVersion == "" || a.Metadata.Generation != 1 {
		t.Fatalf("server-owned metadata not set: %+v", a.Metadata)
	}
	again, created, err := r.Create(ctx, agent("solver", "img:1"), "")
	if err != nil || created {
		t.Fatalf("same create again: created=%v err=%v", created, err)
	}
	if again.Metadata.Uid != a.Metadata.Uid || again.Metadata.ResourceVersion != a.Metadata.ResourceVersion {
		t.Fatalf("repeat create changed the object: %v vs %v", again.Metadata, a.Metadata)
	}
	if _, _, err := r.Create(ctx, agent("solver", "img:2"), ""); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("create with another spec: got %v, want ErrAlreadyExists", err)
	}
	// A request id returns the first result even when the retry differs.
	b, _, err := r.Create(ctx, agent("other", "img:1"), "req-1")
	if err != nil {
		t.Fatal(err)
	}
	b2, created, err := r.Create(ctx, agent("other", "img:9"), "req-1")
	if err != nil || created || b2.Metadata.Uid != b.Metadata.Uid {
		t.Fatalf("retry by request id: created=%v err=%v uid %s vs %s", created, err, b2.GetMetadata().GetUid(), b.Metadata.Uid)
	}
}

func TestStaleUpdateIsRefused(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	defer s.Close()
	r := NewRepository[*v1.Agent](s, "agents", false)
	a, _, err := r.Create(ctx, agent("solver", "img:1"), "")
	if err != nil {
		t.Fatal(err)
	}
	a.Spec.Image = "img:2"
	a.Metadata.Labels = map[string]string{"team": "a"}
	b, err := r.Update(ctx, a)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if b.Metadata.Generation != 2 || b.Metadata.Labels["team"] != "a" || b.Spec.Image != "img:2" {
		t.Fatalf("update not applied: %v", b)
	}
	a.Spec.Image = "img:3" // still carries the old version
	if _, err := r.Update(ctx, a); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: got %v, want ErrConflict", err)
	}
	got, _ := r.Get(ctx, "solver")
	if got.Spec.Image != "img:2" {
		t.Fatalf("stale update changed the object: %s", got.Spec.Image)
	}
	if _, err := r.Delete(ctx, "solver", a.Metadata.ResourceVersion); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale delete: got %v, want ErrConflict", err)
	}
	// Status writes keep the spec; spec writes keep the status.
	got.Status = &v1.AgentStatus{Phase: "Running"}
	if _, err := r.UpdateStatus(ctx, got); err != nil {
		t.Fatal(err)
	}
	got, _ = r.Get(ctx, "solver")
	got.Spec.Role = "solver"
	got.Status = nil
	if got, err = r.Update(ctx, got); err != nil || got.Status.GetPhase() != "Running" {
		t.Fatalf("spec update lost the status: %v %v", got, err)
	}
}

func TestListPagesAndSelects(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	defer s.Close()
	r := NewRepository[*v1.Agent](s, "agents", false)
	for i := range 25 {
		a := agent(fmt.Sprintf("a%02d", i), "img")
		a.Metadata.Labels = map[string]string{"parity": strconv.Itoa(i % 2)}
		if _, _, err := r.Create(ctx, a, ""); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	opts := ListOptions{PageSize: 10}
	pages := 0
	for {
		p, err := r.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, a := range p.Items {
			names = append(names, a.Metadata.Name)
		}
		if p.NextPageToken == "" {
			break
		}
		opts.PageToken = p.NextPageToken
	}
	if pages != 3 || len(names) != 25 || names[0] != "a00" || names[24] != "a24" {
		t.Fatalf("pages=%d names=%v", pages, names)
	}
	// All ranges over the same across pages, and stops when told.
	var all []string
	for a, err := range r.all(ctx, 10) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, a.Metadata.Name)
	}
	if strings.Join(all, ",") != strings.Join(names, ",") {
		t.Fatalf("All: %v, want %v", all, names)
	}
	n := 0
	for range r.all(ctx, 10) {
		if n++; n == 12 {
			break
		}
	}
	if n != 12 {
		t.Fatalf("a range broken at 12 saw %d", n)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, err := range r.All(canceled) {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("All on a done context: %v, want its error", err)
		}
	}
	sel, err := ParseSelector("parity=1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.List(ctx, ListOptions{Selector: sel})
	if err != nil || len(p.Items) != 12 {
		t.Fatalf("selector: %d items, err %v", len(p.Items), err)
	}
	if _, err := r.List(ctx, ListOptions{PageToken: "!!"}); !errors.Is(err, ErrBadPageToken) {
		t.Fatalf("bad token: %v", err)
	}
	nodes := NewRepository[*v1.Node](s, "nodes", false)
	if _, err := nodes.List(ctx, ListOptions{PageToken: opts.PageToken}); !errors.Is(err, ErrBadPageToken) {
		t.Fatalf("a token of another kind: %v", err)
	}
	if _, err := ParseSelector("a=b=c"); err == nil {
		t.Fatal("bad selector accepted")
	}
}

// collect runs a watch until n events arrived.
func collect(t *testing.T, r *Repository[*v1.Agent], rv string, n int) []Event[*v1.Agent] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []Event[*v1.Agent]
	errDone := errors.New("done")
	err := r.Watch(ctx, rv, func(e Event[*v1.Agent]) error {
		got = append(got, e)
		if len(got) == n {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("watch ended with %v after %d of %d events", err, len(got), n)
	}
	return got
}

func TestWatchResumesFromVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	r := NewRepository[*v1.Agent](s, "agents", false)
	a, _, _ := r.Create(ctx, agent("a", "img"), "")
	mark := a.Metadata.ResourceVersion
	b, _, _ := r.Create(ctx, agent("b", "img"), "")
	b.Spec.Image = "img:2"
	if _, err := r.Update(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Delete(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	want := []string{"Added b", "Modified b", "Deleted a"}
	check := func(evs []Event[*v1.Agent]) {
		t.Helper()
		for i, e := range evs {
			got := fmt.Sprintf("%s %s", []string{"", "Added", "Modified", "Deleted", "Bookmark"}[e.Type], e.Object.Metadata.Name)
			if got != want[i] {
				t.Fatalf("event %d = %q, want %q", i, got, want[i])
			}
		}
	}
	check(collect(t, r, mark, 3))

	// The log survives a restart, and live changes follow replayed ones.
	s.Close()
	s = open(t, dir)
	defer s.Close()
	r = NewRepository[*v1.Agent](s, "agents", false)
	done := make(chan []Event[*v1.Agent])
	go func() { done <- collect(t, r, mark, 4) }()
	time.Sleep(50 * time.Millisecond)
	if _, _, err := r.Create(ctx, agent("c", "img"), ""); err != nil {
		t.Fatal(err)
	}
	evs := <-done
	check(evs[:3])
	if evs[3].Type != Added || evs[3].Object.Metadata.Name != "c" {
		t.Fatalf("live event after replay: %v", evs[3])
	}
}

func TestWatchFromNowSendsStateThenBookmark(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	defer s.Close()
	r := NewRepository[*v1.Agent](s, "agents", false)
	r.Create(ctx, agent("a", "img"), "")
	r.Create(ctx, agent("b", "img"), "")
	evs := collect(t, r, "", 3)
	if evs[0].Type != Added || evs[1].Type != Added || evs[2].Type != Bookmark {
		t.Fatalf("events %v", evs)
	}
	if evs[2].Object.Metadata.ResourceVersion != strconv.FormatInt(s.Revision(), 10) {
		t.Fatalf("bookmark at %s, store at %d", evs[2].Object.Metadata.ResourceVersion, s.Revision())
	}
	if err := r.Watch(ctx, "banana", func(Event[*v1.Agent]) error { return nil }); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("bad version: %v", err)
	}
	if err := r.Watch(ctx, "999999", func(Event[*v1.Agent]) error { return nil }); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("future version: %v", err)
	}
}

func TestWatchOfCompactedVersionIsRefused(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), func(o *Options) { o.History = 10 })
	defer s.Close()
	r := NewRepository[*v1.Agent](s, "agents", false)
	a, _, _ := r.Create(ctx, agent("a", "img"), "")
	for i := range 300 {
		a.Metadata.Labels = map[string]string{"i": strconv.Itoa(i)}
		var err error
		if a, err = r.Update(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if s.CompactedRevision() == 0 {
		t.Fatal("no compaction after 300 writes with a history of 10")
	}
	err := r.Watch(ctx, "1", func(Event[*v1.Agent]) error { return nil })
	if !errors.Is(err, ErrCompacted) {
		t.Fatalf("watch from a compacted version: %v", err)
	}
	evs := collect(t, r, strconv.FormatInt(s.CompactedRevision(), 10), 1)
	if evs[0].Type != Modified {
		t.Fatalf("watch from the compacted mark: %v", evs)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	r := NewRepository[*v1.Agent](s, "agents", true)
	a, _, err := r.Create(ctx, agent("keep", "img"), "req")
	if err != nil {
		t.Fatal(err)
	}
	rev := s.Revision()
	s.Close()
	s = open(t, dir)
	defer s.Close()
	r = NewRepository[*v1.Agent](s, "agents", true)
	got, err := r.Get(ctx, "keep")
	if err != nil || got.Metadata.Uid != a.Metadata.Uid {
		t.Fatalf("after reopen: %v %v", got, err)
	}
	if s.Revision() != rev {
		t.Fatalf("revision %d after reopen, want %d", s.Revision(), rev)
	}
	b, _, _ := r.Create(ctx, agent("next", "img"), "")
	if b.Metadata.ResourceVersion <= a.Metadata.ResourceVersion && len(b.Metadata.ResourceVersion) <= len(a.Metadata.ResourceVersion) {
		t.Fatalf("revision went backwards: %s after %s", b.Metadata.ResourceVersion, a.Metadata.ResourceVersion)
	}
	if again, created, _ := r.Create(ctx, agent("x", "y"), "req"); created || again.Metadata.Name != "keep" {
		t.Fatalf("request id forgotten after reopen: %v", again)
	}
}

func TestSchemaMigrationAndNewerSchema(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	r := NewRepository[*v1.Agent](s, "agents", false)
	r.Create(ctx, agent("a", "img:1"), "")
	s.Close()

	// Version 2 relabels every agent.
	mig := Migration{From: 1, Description: "label agents", Apply: func(txn *badger.Txn) error {
		return txn.Set([]byte("m/migrated"), []byte("yes"))
	}}
	s = open(t, dir, func(o *Options) { o.Schema = 2; o.Migrations = []Migration{mig} })
	if s.SchemaVersion() != 2 {
		t.Fatalf("schema after migration: %d", s.SchemaVersion())
	}
	s.Close()

	// An older build refuses the newer store and changes nothing.
	before := hashDir(t, dir)
	_, err := Open(Options{Dir: dir, Schema: 1})
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "schema version 2") {
		t.Fatalf("older build on newer store: %v", err)
	}
	if after := hashDir(t, dir); after != before {
		t.Fatal("refusing a newer schema changed the store's files")
	}
	s = open(t, dir, func(o *Options) { o.Schema = 2 })
	if got, err := NewRepository[*v1.Agent](s, "agents", false).Get(ctx, "a"); err != nil || got.Spec.Image != "img:1" {
		t.Fatalf("data after refused open: %v %v", got, err)
	}

	s.Close()
	// A migration that is missing is an error, not a silent skip.
	if _, err := Open(Options{Dir: dir, Schema: 3}); err == nil || !strings.Contains(err.Error(), "no migration") {
		t.Fatalf("missing migration: %v", err)
	}
}

func TestCorruptStoreIsRefusedAndLeftAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	NewRepository[*v1.Agent](s, "agents", true).Create(ctx, agent("a", "img"), "")
	s.Close()
	manifest := filepath.Join(dir, "MANIFEST")
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	for i := 8; i < len(b); i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(manifest, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := hashDir(t, dir)
	_, err = Open(Options{Dir: dir})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "changed nothing") {
		t.Fatalf("corrupt store: %v", err)
	}
	if after := hashDir(t, dir); after != before {
		t.Fatalf("refused open changed the directory:\nbefore %s\nafter  %s", before, after)
	}
}

func TestForeignDataIsRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("hello"), []byte("world")) })
	db.Close()
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no schema record") {
		t.Fatalf("foreign badger data: %v", err)
	}
}

// hashDir hashes every file's name and contents under dir.
func hashDir(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestModifyIsAtomicReadModifyWrite(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	defer s.Close()
	r := NewRepository[*v1.Agent](s, "agents", false)
	create := func() *v1.Agent { return &v1.Agent{Spec: &v1.AgentSpec{}, Status: &v1.AgentStatus{}} }
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 25 {
				_, e := r.Modify(ctx, "counter", create, func(a *v1.Agent) error {
					a.Spec.Replicas++
					return nil
				})
				if e != nil {
					err = e
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.Get(ctx, "counter")
	if err != nil || got.Spec.Replicas != 200 || got.Metadata.Generation != 200 {
		t.Fatalf("after 200 concurrent increments: %v %v", got, err)
	}
	if _, err := r.Modify(ctx, "absent", nil, func(*v1.Agent) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("modify of a missing object without create: %v", err)
	}
	boom := errors.New("boom")
	if _, err := r.Modify(ctx, "counter", nil, func(a *v1.Agent) error { a.Spec.Replicas = 0; return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn error: %v", err)
	}
	if got, _ := r.Get(ctx, "counter"); got.Spec.Replicas != 200 {
		t.Fatal("a failed modify wrote")
	}
}
