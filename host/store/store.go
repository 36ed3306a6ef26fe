// Package store keeps Stratoswarm's state in badger: records of every kind
// of resource under a global revision, a change log that watches resume
// from, and a schema version with migrations. Typed access is through
// Repository.
//
// Keys:
//
//	m/schema               schema version (decimal)
//	m/revision             newest revision (8 bytes, big endian)
//	m/compacted            newest revision dropped from the change log
//	o/<kind>/<name>        the object, marshalled by its repository
//	e/<kind>/<revision>    a change: event type, name, object
//	q/<kind>/<request-id>  name created by a request id (expires)
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// CurrentSchema is the schema version this build writes.
const CurrentSchema = 1

// Errors callers tell apart with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the caller's resource version is not the stored one.
	ErrConflict = errors.New("resource version conflict")
	// ErrCompacted: a watch asked for history that has been dropped.
	ErrCompacted = errors.New("resource version compacted")
	// ErrNewerSchema: the store was written by a newer swarmd.
	ErrNewerSchema = errors.New("store schema is newer than this build")
	// ErrCorrupt: the store cannot be read.
	ErrCorrupt = errors.New("store is corrupted")
)

// Migration upgrades the store from schema version From to From+1.
type Migration struct {
	From        int
	Description string
	Apply       func(txn *badger.Txn) error
}

// Options configure Open.
type Options struct {
	// Dir is the badger directory.
	Dir string
	// History is how many revisions of change log are kept (default 100000).
	History int64
	// Schema is the version to open at (default CurrentSchema); older
	// stores are migrated up to it with Migrations.
	Schema     int
	Migrations []Migration
	Logger     *slog.Logger
}

// Store is an open badger store. It is safe for concurrent use.
type Store struct {
	db      *badger.DB
	dir     string
	history int64
	schema  int
	log     *slog.Logger

	mu        sync.Mutex // serialises writes so revisions commit in order
	rev       int64
	compacted int64
	writes    int

	hub hub
}

var (
	keySchema    = []byte("m/schema")
	keyRevision  = []byte("m/revision")
	keyCompacted = []byte("m/compacted")
)

// Open opens or creates the store in opts.Dir. It refuses a store written
// with a newer schema and one it cannot read, and changes nothing then.
func Open(opts Options) (*Store, error) {
	if opts.History <= 0 {
		opts.History = 100000
	}
	if opts.Schema == 0 {
		opts.Schema = CurrentSchema
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}
	if err := preflight(opts); err != nil {
		return nil, err
	}
	bo := badger.DefaultOptions(opts.Dir).
		WithLogger(badgerLogger{opts.Logger}).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(16 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("%w: badger could not open %s: %v; swarmd changed nothing: restore the directory from a backup, or move it aside to start with an empty store", ErrCorrupt, opts.Dir, err)
	}
	s := &Store{db: db, dir: opts.Dir, history: opts.History, log: opts.Logger, hub: hub{subs: map[string]map[chan struct{}]struct{}{}}}
	if err := s.init(opts); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// preflight opens an existing store read-only to refuse a newer schema
// before a read-write open can touch any file. A store that cannot be
// opened read-only (one not closed cleanly needs recovery) is left to the
// read-write open, which checks the schema again.
func preflight(opts Options) error {
	if _, err := os.Stat(filepath.Join(opts.Dir, "MANIFEST")); err != nil {
		return nil
	}
	db, err := badger.Open(badger.DefaultOptions(opts.Dir).WithReadOnly(true).WithLogger(nil))
	if err != nil {
		return nil
	}
	defer db.Close()
	return db.View(func(txn *badger.Txn) error {
		v, err := getBytes(txn, keySchema)
		if err != nil {
			return nil
		}
		if schema, err := strconv.Atoi(string(v)); err == nil && schema > opts.Schema {
			return newerSchemaError(opts.Dir, schema, opts.Schema)
		}
		return nil
	})
}

func newerSchemaError(dir string, have, want int) error {
	return fmt.Errorf("%w: %s has schema version %d, this swarmd supports up to %d; run a newer swarmd, or point --data-dir elsewhere; swarmd changed nothing", ErrNewerSchema, dir, have, want)
}

// init reads the meta records, checks the schema and runs migrations.
func (s *Store) init(opts Options) error {
	var schema int
	var empty bool
	err := s.db.View(func(txn *badger.Txn) error {
		v, err := getBytes(txn, keySchema)
		if errors.Is(err, badger.ErrKeyNotFound) {
			it := txn.NewIterator(badger.IteratorOptions{})
			defer it.Close()
			it.Rewind()
			empty = !it.Valid()
			return nil
		}
		if err != nil {
			return err
		}
		if schema, err = strconv.Atoi(string(v)); err != nil || schema < 1 {
			return fmt.Errorf("%w: schema record %q is not a version number", ErrCorrupt, v)
		}
		if s.rev, err = getInt(txn, keyRevision); err != nil {
			return err
		}
		s.compacted, err = getInt(txn, keyCompacted)
		return err
	})
	if err != nil {
		return fmt.Errorf("read store %s: %w", s.dir, err)
	}
	switch {
	case schema == 0 && empty:
		schema = opts.Schema
		if err := s.db.Update(func(txn *badger.Txn) error {
			return txn.Set(keySchema, []byte(strconv.Itoa(schema)))
		}); err != nil {
			return fmt.Errorf("initialise store: %w", err)
		}
	case schema == 0:
		return fmt.Errorf("%w: %s holds data but no schema record; it was not written by swarmd, or is damaged; swarmd changed nothing", ErrCorrupt, s.dir)
	case schema > opts.Schema:
		return newerSchemaError(s.dir, schema, opts.Schema)
	}
	for schema < opts.Schema {
		m, ok := findMigration(opts.Migrations, schema)
		if !ok {
			return fmt.Errorf("store %s has schema version %d and this build has no migration from it to %d", s.dir, schema, schema+1)
		}
		s.log.Info("migrating store", "from", schema, "to", schema+1, "migration", m.Description)
		next := schema + 1
		if err := s.db.Update(func(txn *badger.Txn) error {
			if err := m.Apply(txn); err != nil {
				return err
			}
			return txn.Set(keySchema, []byte(strconv.Itoa(next)))
		}); err != nil {
			return fmt.Errorf("migrate store from schema %d to %d (%s): %w; the store is still at %d", schema, next, m.Description, err, schema)
		}
		if err := s.db.Sync(); err != nil {
			return fmt.Errorf("sync after migration: %w", err)
		}
		schema = next
	}
	s.schema = schema
	return nil
}

func findMigration(ms []Migration, from int) (Migration, bool) {
	for _, m := range ms {
		if m.From == from && m.Apply != nil {
			return m, true
		}
	}
	return Migration{}, false
}

// Close closes the store.
func (s *Store) Close() error {
	s.hub.closeAll()
	return s.db.Close()
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// SchemaVersion is the store's schema version.
func (s *Store) SchemaVersion() int { return s.schema }

// Revision is the newest revision written.
func (s *Store) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// CompactedRevision is the newest revision whose change was dropped from the
// log; a watch can resume from any later one.
func (s *Store) CompactedRevision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.compacted
}

// Size is the size of badger's LSM tree and value log in bytes.
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// Count counts the records of a kind.
func (s *Store) Count(kind string) (int64, error) {
	var n int64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: objectPrefix(kind)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// EventType is what a change did.
type EventType uint8

// The event types of the change log.
const (
	Added EventType = iota + 1
	Modified
	Deleted
	// Bookmark carries only a revision to resume from.
	Bookmark
)

// record is an object as stored.
type record struct {
	name  string
	rev   int64
	value []byte
}

// change is one write of mutate: put value, or delete when value is nil.
type change struct {
	value     []byte
	requestID string
}

// mutateFunc gets the stored record (nil if absent) and the revision the
// write will get, and returns what to write; a nil change writes nothing.
type mutateFunc func(old *record, rev int64) (*change, error)

// mutate applies fn to one record in a transaction, logs the change under
// a new revision and wakes the watchers. With durable, it syncs to disk
// before returning.
func (s *Store) mutate(kind, name string, durable bool, fn mutateFunc) (*record, EventType, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rev := s.rev + 1
	var out *record
	var typ EventType
	err := s.db.Update(func(txn *badger.Txn) error {
		old, err := getRecord(txn, kind, name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		ch, err := fn(old, rev)
		if err != nil || ch == nil {
			return err
		}
		key := objectKey(kind, name)
		switch {
		case ch.value == nil && old == nil:
			return fmt.Errorf("%s %q: %w", kind, name, ErrNotFound)
		case ch.value == nil:
			typ = Deleted
			out = &record{name: name, rev: rev, value: old.value}
			err = txn.Delete(key)
		default:
			typ = Modified
			if old == nil {
				typ = Added
			}
			out = &record{name: name, rev: rev, value: ch.value}
			err = txn.Set(key, ch.value)
		}
		if err != nil {
			return err
		}
		if ch.requestID != "" {
			e := badger.NewEntry(requestKey(kind, ch.requestID), []byte(name)).WithTTL(24 * time.Hour)
			if err := txn.SetEntry(e); err != nil {
				return err
			}
		}
		if err := txn.Set(eventKey(kind, rev), encodeEvent(typ, name, out.value)); err != nil {
			return err
		}
		return txn.Set(keyRevision, encodeInt(rev))
	})
	if err != nil || out == nil {
		return nil, 0, err
	}
	s.rev = rev
	if durable {
		if err := s.db.Sync(); err != nil {
			return nil, 0, fmt.Errorf("sync %s %q: %w", kind, name, err)
		}
	}
	s.hub.notify(kind)
	s.writes++
	if s.writes%256 == 0 {
		if err := s.compactLocked(); err != nil {
			s.log.Warn("compacting change log", "err", err)
		}
	}
	return out, typ, nil
}

// compactLocked drops change-log entries older than the kept history.
func (s *Store) compactLocked() error {
	target := s.rev - s.history
	if target <= s.compacted {
		return nil
	}
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("e/")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) >= 8 && int64(binary.BigEndian.Uint64(k[len(k)-8:])) <= target {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	if err := wb.Set(keyCompacted, encodeInt(target)); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	s.compacted = target
	return nil
}

// get reads one record.
func (s *Store) get(kind, name string) (*record, error) {
	var r *record
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		r, err = getRecord(txn, kind, name)
		return err
	})
	return r, err
}

// nameForRequest returns the name a request id created, if it is known.
func (s *Store) nameForRequest(kind, requestID string) (string, bool, error) {
	var name string
	err := s.db.View(func(txn *badger.Txn) error {
		v, err := getBytes(txn, requestKey(kind, requestID))
		name = string(v)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", false, nil
	}
	return name, err == nil, err
}

// scan reads up to limit records of kind with names after `after`, for
// which keep returns true, in one snapshot, and the revision of that
// snapshot. more reports whether records remain after the last returned.
func (s *Store) scan(kind, after string, limit int, keep func(value []byte) (bool, error)) (recs []record, rev int64, more bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		if rev, err = getInt(txn, keyRevision); err != nil {
			return err
		}
		prefix := objectPrefix(kind)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		start := prefix
		if after != "" {
			start = append(objectKey(kind, after), 0)
		}
		for it.Seek(start); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			ok, err := keep(v)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if len(recs) == limit {
				more = true
				return nil
			}
			name := string(it.Item().Key()[len(prefix):])
			recs = append(recs, record{name: name, value: v})
		}
		return nil
	})
	return recs, rev, more, err
}

// logEntry is one change read back from the log.
type logEntry struct {
	typ   EventType
	rev   int64
	name  string
	value []byte
}

// readLog returns the changes of kind after revision from, oldest first,
// at most limit of them.
func (s *Store) readLog(kind string, from int64, limit int) ([]logEntry, error) {
	s.mu.Lock()
	compacted := s.compacted
	s.mu.Unlock()
	if from < compacted {
		return nil, fmt.Errorf("%w: version %d is older than the kept history (from %d); list again and watch from the list's version", ErrCompacted, from, compacted)
	}
	var out []logEntry
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := []byte("e/" + kind + "/")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Seek(eventKey(kind, from+1)); it.Valid() && len(out) < limit; it.Next() {
			k := it.Item().Key()
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			e, err := decodeEvent(v)
			if err != nil {
				return fmt.Errorf("%w: change log entry %q: %v", ErrCorrupt, k, err)
			}
			e.rev = int64(binary.BigEndian.Uint64(k[len(prefix):]))
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Compaction may have run while we read: then entries may be missing.
	if c := s.CompactedRevision(); from < c {
		return nil, fmt.Errorf("%w: version %d is older than the kept history (from %d); list again and watch from the list's version", ErrCompacted, from, c)
	}
	return out, nil
}

func objectPrefix(kind string) []byte { return []byte("o/" + kind + "/") }

func objectKey(kind, name string) []byte { return []byte("o/" + kind + "/" + name) }

func requestKey(kind, id string) []byte { return []byte("q/" + kind + "/" + id) }

func eventKey(kind string, rev int64) []byte {
	return binary.BigEndian.AppendUint64([]byte("e/"+kind+"/"), uint64(rev))
}

func encodeInt(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func getBytes(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// getInt reads an 8-byte counter; a missing one is 0.
func getInt(txn *badger.Txn, key []byte) (int64, error) {
	v, err := getBytes(txn, key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: %s holds %d bytes, want 8", ErrCorrupt, key, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func getRecord(txn *badger.Txn, kind, name string) (*record, error) {
	v, err := getBytes(txn, objectKey(kind, name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%s %q: %w", kind, name, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &record{name: name, value: v}, nil
}

// encodeEvent lays out a change as: type, uvarint name length, name, value.
func encodeEvent(t EventType, name string, value []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(name)+len(value))
	b = append(b, byte(t))
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	return append(b, value...)
}

func decodeEvent(b []byte) (logEntry, error) {
	if len(b) < 2 {
		return logEntry{}, errors.New("too short")
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || uint64(len(b)-1-k) < n {
		return logEntry{}, errors.New("bad name length")
	}
	start := 1 + k
	return logEntry{typ: EventType(b[0]), name: string(b[start : start+int(n)]), value: bytes.Clone(b[start+int(n):])}, nil
}

// hub wakes the watchers of a kind after a write.
type hub struct {
	mu     sync.Mutex
	subs   map[string]map[chan struct{}]struct{}
	closed bool
}

// subscribe returns a channel that receives a signal after each write of
// kind (signals coalesce) and is closed when the store closes.
func (h *hub) subscribe(kind string) (chan struct{}, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan struct{}, 1)
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	if h.subs[kind] == nil {
		h.subs[kind] = map[chan struct{}]struct{}{}
	}
	h.subs[kind][ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[kind][ch]; ok {
			delete(h.subs[kind], ch)
			close(ch)
		}
	}
}

func (h *hub) notify(kind string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[kind] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, subs := range h.subs {
		for ch := range subs {
			close(ch)
		}
	}
	h.subs = map[string]map[chan struct{}]struct{}{}
}

// badgerLogger sends badger's chatter to slog at debug level, warnings and
// errors at their own.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug(fmt.Sprintf(f, a...), "component", "badger")
}
