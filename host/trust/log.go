package trust

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/dgraph-io/badger/v4"
)

// Keys, all under "trust/" so a Log can share a badger DB:
//
//	trust/n/<subject>          the subject's last Seq (8 bytes, big endian)
//	trust/e/<subject>/<seq>    a record (JSON), seq as 8 bytes big endian
//	trust/c/<subject>/<seq>    a copy of each call record: the call graph
//
// <subject> is Subject.String(); names and versions hold no '/', so the
// trailing '/' ends the subject unambiguously.
const (
	prefixLast  = "trust/n/"
	prefixLog   = "trust/e/"
	prefixCalls = "trust/c/"
)

// maxAppendRetries bounds the retries of an append that lost a race for
// the subject's sequence number to another writer of the same DB.
const maxAppendRetries = 64

// Log is the append-only evidence log. Records are appended and listed,
// never updated or deleted. It is safe for concurrent use.
type Log struct {
	db    *badger.DB
	owned bool
}

// LogOptions configure OpenLog.
type LogOptions struct {
	// Dir is the badger directory, created if missing.
	Dir string
	// Logger receives badger's messages; nil discards them.
	Logger *slog.Logger
}

// OpenLog opens (or creates) a Log in its own badger DB in opts.Dir. Close
// closes the DB.
func OpenLog(opts LogOptions) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("open trust log: LogOptions.Dir is empty: give the directory to keep the evidence in")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open trust log: create %s: %w", opts.Dir, err)
	}
	bo := badger.DefaultOptions(opts.Dir).
		WithLogger(badgerLogger{opts.Logger}).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(16 << 20).
		WithIndexCacheSize(8 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open trust log in %s: %w (is another swarmd using it? badger allows one process per directory)", opts.Dir, err)
	}
	return &Log{db: db, owned: true}, nil
}

// NewLog returns a Log over a badger DB the caller owns and closes; the
// Log's keys start with "trust/".
func NewLog(db *badger.DB) *Log { return &Log{db: db} }

// Close closes the DB if OpenLog opened it.
func (l *Log) Close() error {
	if !l.owned {
		return nil
	}
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("close trust log: %w", err)
	}
	return nil
}

func lastKey(s Subject) []byte { return []byte(prefixLast + s.String()) }

func subjectPrefix(prefix string, s Subject) []byte { return []byte(prefix + s.String() + "/") }

func recordKey(prefix string, s Subject, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(subjectPrefix(prefix, s), seq)
}

// Append validates the records and appends them to the subject's log in one
// transaction, in order, numbering them after the subject's last record.
// It returns them with their Seq. Nothing is written if any is invalid.
func (l *Log) Append(ctx context.Context, s Subject, es ...Evidence) ([]Evidence, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("append evidence: %w", err)
	}
	for i, e := range es {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("append evidence to %s: record %d: %w", s, i, err)
		}
	}
	if len(es) == 0 {
		return nil, nil
	}
	out := make([]Evidence, len(es))
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("append evidence to %s: %w", s, err)
		}
		err := l.db.Update(func(txn *badger.Txn) error {
			last, err := readLast(txn, s)
			if err != nil {
				return err
			}
			for i, e := range es {
				e.Seq = last + uint64(i) + 1
				e.Time = e.Time.UTC()
				v, err := json.Marshal(e)
				if err != nil {
					return err
				}
				if err := txn.Set(recordKey(prefixLog, s, e.Seq), v); err != nil {
					return err
				}
				if e.Kind == EvidenceCall {
					if err := txn.Set(recordKey(prefixCalls, s, e.Seq), v); err != nil {
						return err
					}
				}
				out[i] = e
			}
			return txn.Set(lastKey(s), binary.BigEndian.AppendUint64(nil, last+uint64(len(es))))
		})
		switch {
		case err == nil:
			return out, nil
		case errors.Is(err, badger.ErrConflict) && attempt < maxAppendRetries:
			continue // another writer took the next Seq first: number again
		case errors.Is(err, badger.ErrTxnTooBig):
			return nil, fmt.Errorf("append evidence to %s: %d records are too many for one transaction: append them in smaller batches", s, len(es))
		default:
			return nil, fmt.Errorf("append evidence to %s: %w", s, err)
		}
	}
}

// readLast returns the subject's last Seq, 0 for a subject with no records.
// Reading the key makes concurrent appends to the same subject conflict.
func readLast(txn *badger.Txn, s Subject) (uint64, error) {
	item, err := txn.Get(lastKey(s))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var last uint64
	err = item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("the last sequence number of %s is %d bytes, not 8: the trust log is damaged", s, len(v))
		}
		last = binary.BigEndian.Uint64(v)
		return nil
	})
	return last, err
}

// Last returns the Seq of the subject's last record (0 when it has none).
func (l *Log) Last(ctx context.Context, s Subject) (uint64, error) {
	if err := s.Validate(); err != nil {
		return 0, fmt.Errorf("read trust log: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("read the trust log of %s: %w", s, err)
	}
	var last uint64
	err := l.db.View(func(txn *badger.Txn) error {
		var err error
		last, err = readLast(txn, s)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read the trust log of %s: %w", s, err)
	}
	return last, nil
}

// List returns the subject's records with Seq greater than since, in Seq
// order: List(ctx, s, 0) is the whole log.
func (l *Log) List(ctx context.Context, s Subject, since uint64) ([]Evidence, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("read trust log: %w", err)
	}
	var out []Evidence
	err := l.db.View(func(txn *badger.Txn) error {
		var err error
		out, err = scan(ctx, txn, subjectPrefix(prefixLog, s), recordKey(prefixLog, s, since+1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the trust log of %s: %w", s, err)
	}
	return out, nil
}

// Calls returns every call record of the log, of all subjects, ordered by
// subject id then Seq: the call graph that graph scorers read.
func (l *Log) Calls(ctx context.Context) ([]Evidence, error) {
	var out []Evidence
	err := l.db.View(func(txn *badger.Txn) error {
		var err error
		out, err = scan(ctx, txn, []byte(prefixCalls), []byte(prefixCalls))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the call graph from the trust log: %w", err)
	}
	return out, nil
}

// Subjects returns every subject with records, ordered by id.
func (l *Log) Subjects(ctx context.Context) ([]Subject, error) {
	var out []Subject
	err := l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixLast)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := string(bytes.TrimPrefix(it.Item().Key(), []byte(prefixLast)))
			s, err := ParseSubject(id)
			if err != nil {
				return fmt.Errorf("the trust log is damaged: %w", err)
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list trust subjects: %w", err)
	}
	return out, nil
}

// scan decodes the records under prefix from start on.
func scan(ctx context.Context, txn *badger.Txn, prefix, start []byte) ([]Evidence, error) {
	var out []Evidence
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Seek(start); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var e Evidence
		err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) })
		if err != nil {
			return nil, fmt.Errorf("the record at %q is damaged: %w", it.Item().Key(), err)
		}
		out = append(out, e)
	}
	return out, nil
}

// badgerLogger sends badger's chatter to slog at debug level, warnings and
// errors at their own.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(fmt.Sprintf(f, a...), "component", "badger", "db", "trust")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(fmt.Sprintf(f, a...), "component", "badger", "db", "trust")
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug(fmt.Sprintf(f, a...), "component", "badger", "db", "trust")
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug(fmt.Sprintf(f, a...), "component", "badger", "db", "trust")
}
