package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// Object is a resource: a protobuf message with metadata.
type Object interface {
	proto.Message
	GetMetadata() *v1.ObjectMeta
}

// Repository stores one kind of resource. T is a pointer to a generated
// message type with a `metadata` field, and, usually, `spec` and `status`.
type Repository[T Object] struct {
	s       *Store
	kind    string
	durable bool
	now     func() time.Time
}

// NewRepository returns the repository of kind. With durable, every write
// is synced to disk before it returns, so it survives a crash of the host.
func NewRepository[T Object](s *Store, kind string, durable bool) *Repository[T] {
	return &Repository[T]{s: s, kind: kind, durable: durable, now: time.Now}
}

// Kind is the repository's kind.
func (r *Repository[T]) Kind() string { return r.kind }

func (r *Repository[T]) decode(b []byte) (T, error) {
	var zero T
	obj := zero.ProtoReflect().New().Interface().(T)
	if err := proto.Unmarshal(b, obj); err != nil {
		return zero, fmt.Errorf("%w: %s record: %v", ErrCorrupt, r.kind, err)
	}
	return obj, nil
}

// stamp sets the metadata a write owns and marshals the object.
func (r *Repository[T]) stamp(obj T, rev int64) ([]byte, error) {
	md := obj.GetMetadata()
	md.ResourceVersion = strconv.FormatInt(rev, 10)
	md.UpdateTime = timestamppb.New(r.now())
	return proto.MarshalOptions{Deterministic: true}.Marshal(obj)
}

// Get returns the object called name.
func (r *Repository[T]) Get(ctx context.Context, name string) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	rec, err := r.s.get(r.kind, name)
	if err != nil {
		return zero, err
	}
	return r.decode(rec.value)
}

// Create stores obj. It is idempotent: if requestID created an object
// before, or an object of the same name with an equal spec exists, that
// object is returned with created false; the same name with a different
// spec is ErrAlreadyExists.
func (r *Repository[T]) Create(ctx context.Context, obj T, requestID string) (out T, created bool, err error) {
	if err := ctx.Err(); err != nil {
		return out, false, err
	}
	md := obj.GetMetadata()
	if md == nil || md.GetName() == "" {
		return out, false, errors.New("metadata.name is required")
	}
	if requestID != "" {
		name, ok, err := r.s.nameForRequest(r.kind, requestID)
		if err != nil {
			return out, false, err
		}
		if ok {
			got, err := r.Get(ctx, name)
			if err == nil {
				return got, false, nil
			}
			if !errors.Is(err, ErrNotFound) {
				return out, false, err
			}
		}
	}
	var existing []byte
	rec, _, err := r.s.mutate(r.kind, md.GetName(), r.durable, func(old *record, rev int64) (*change, error) {
		if old != nil {
			prev, err := r.decode(old.value)
			if err != nil {
				return nil, err
			}
			if !sameSpec(prev, obj) {
				return nil, fmt.Errorf("%s %q: %w with a different spec; delete it first or choose another name", r.kind, md.GetName(), ErrAlreadyExists)
			}
			existing = old.value
			return nil, nil
		}
		fresh := proto.Clone(obj).(T)
		m := fresh.GetMetadata()
		m.Uid = newUID()
		m.Generation = 1
		m.CreateTime = timestamppb.New(r.now())
		v, err := r.stamp(fresh, rev)
		if err != nil {
			return nil, err
		}
		return &change{value: v, requestID: requestID}, nil
	})
	if err != nil {
		return out, false, err
	}
	if rec == nil {
		out, err = r.decode(existing)
		return out, false, err
	}
	out, err = r.decode(rec.value)
	return out, true, err
}

// Update replaces the object's labels, annotations and spec, keeping its
// status. obj's metadata.resource_version must match the stored one, or
// the update fails with ErrConflict.
func (r *Repository[T]) Update(ctx context.Context, obj T) (T, error) {
	return r.write(ctx, obj, false)
}

// UpdateStatus replaces the object's status only, with the same version
// check as Update; an empty resource_version skips the check (for the
// server's own status writers).
func (r *Repository[T]) UpdateStatus(ctx context.Context, obj T) (T, error) {
	return r.write(ctx, obj, true)
}

func (r *Repository[T]) write(ctx context.Context, obj T, status bool) (out T, err error) {
	if err := ctx.Err(); err != nil {
		return out, err
	}
	md := obj.GetMetadata()
	if md == nil || md.GetName() == "" {
		return out, errors.New("metadata.name is required")
	}
	rv := md.GetResourceVersion()
	if rv == "" && !status {
		return out, errors.New("metadata.resource_version is required: read the object and send its version back")
	}
	rec, _, err := r.s.mutate(r.kind, md.GetName(), r.durable, func(old *record, rev int64) (*change, error) {
		if old == nil {
			return nil, fmt.Errorf("%s %q: %w", r.kind, md.GetName(), ErrNotFound)
		}
		prev, err := r.decode(old.value)
		if err != nil {
			return nil, err
		}
		if rv != "" && rv != prev.GetMetadata().GetResourceVersion() {
			return nil, fmt.Errorf("%s %q: %w: you sent version %s, the stored one is %s; read it again and retry", r.kind, md.GetName(), ErrConflict, rv, prev.GetMetadata().GetResourceVersion())
		}
		next := proto.Clone(prev).(T)
		if status {
			copyField(next, obj, "status")
		} else {
			specChanged := !sameSpec(prev, obj)
			copyField(next, obj, "spec")
			m := next.GetMetadata()
			m.Labels = md.GetLabels()
			m.Annotations = md.GetAnnotations()
			if specChanged {
				m.Generation++
			}
		}
		v, err := r.stamp(next, rev)
		if err != nil {
			return nil, err
		}
		return &change{value: v}, nil
	})
	if err != nil {
		return out, err
	}
	return r.decode(rec.value)
}

// Modify applies fn to the stored object called name and writes the whole
// object (metadata labels and annotations, spec and status) atomically:
// nothing else writes between the read and the write, so there is no
// version conflict to retry. If the object does not exist, create makes the
// starting point (nil create: ErrNotFound). fn returning an error writes
// nothing. Modify is for the server's own controllers.
func (r *Repository[T]) Modify(ctx context.Context, name string, create func() T, fn func(T) error) (out T, err error) {
	if err := ctx.Err(); err != nil {
		return out, err
	}
	rec, _, err := r.s.mutate(r.kind, name, r.durable, func(old *record, rev int64) (*change, error) {
		var obj T
		if old == nil {
			if create == nil {
				return nil, fmt.Errorf("%s %q: %w", r.kind, name, ErrNotFound)
			}
			obj = create()
			md := obj.GetMetadata()
			if md == nil {
				md = &v1.ObjectMeta{}
				setMetadata(obj, md)
			}
			md.Name = name
			md.Uid = newUID()
			md.Generation = 1
			md.CreateTime = timestamppb.New(r.now())
		} else {
			var err error
			if obj, err = r.decode(old.value); err != nil {
				return nil, err
			}
		}
		before := proto.Clone(obj)
		if err := fn(obj); err != nil {
			return nil, err
		}
		md := obj.GetMetadata()
		md.Name = name // the name is the key; fn cannot move the object
		if old != nil && !sameSpec(before, obj) {
			md.Generation++
		}
		v, err := r.stamp(obj, rev)
		if err != nil {
			return nil, err
		}
		return &change{value: v}, nil
	})
	if err != nil {
		return out, err
	}
	return r.decode(rec.value)
}

// Delete removes the object called name and returns its last state. A
// non-empty resourceVersion must match the stored one.
func (r *Repository[T]) Delete(ctx context.Context, name, resourceVersion string) (out T, err error) {
	if err := ctx.Err(); err != nil {
		return out, err
	}
	rec, _, err := r.s.mutate(r.kind, name, r.durable, func(old *record, _ int64) (*change, error) {
		if old == nil {
			return nil, fmt.Errorf("%s %q: %w", r.kind, name, ErrNotFound)
		}
		if resourceVersion != "" {
			prev, err := r.decode(old.value)
			if err != nil {
				return nil, err
			}
			if got := prev.GetMetadata().GetResourceVersion(); got != resourceVersion {
				return nil, fmt.Errorf("%s %q: %w: you sent version %s, the stored one is %s", r.kind, name, ErrConflict, resourceVersion, got)
			}
		}
		return &change{}, nil
	})
	if err != nil {
		return out, err
	}
	return r.decode(rec.value)
}

// ListOptions select a page of a List.
type ListOptions struct {
	// PageSize is the most objects to return: 0 means 100, at most 1000.
	PageSize int
	// PageToken continues a previous List.
	PageToken string
	// Selector keeps objects whose labels match.
	Selector Selector
}

// Page is one page of a List.
type Page[T Object] struct {
	Items []T
	// NextPageToken is empty on the last page.
	NextPageToken string
	// ResourceVersion is the store revision the page was read at.
	ResourceVersion string
}

// MaxPageSize is the largest page a List returns.
const MaxPageSize = 1000

// ErrBadPageToken: the page token was not made by this store.
var ErrBadPageToken = errors.New("invalid page token")

// All ranges over every object in name order, reading MaxPageSize at a
// time: for obj, err := range repo.All(ctx). A read error is yielded once,
// with a zero object, and ends the range; breaking out stops the reads.
func (r *Repository[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return r.all(ctx, MaxPageSize)
}

func (r *Repository[T]) all(ctx context.Context, size int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		opts := ListOptions{PageSize: size}
		for {
			page, err := r.List(ctx, opts)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, obj := range page.Items {
				if !yield(obj, nil) {
					return
				}
			}
			if page.NextPageToken == "" {
				return
			}
			opts.PageToken = page.NextPageToken
		}
	}
}

// List returns a page of objects in name order.
func (r *Repository[T]) List(ctx context.Context, opts ListOptions) (Page[T], error) {
	var page Page[T]
	if err := ctx.Err(); err != nil {
		return page, err
	}
	size := opts.PageSize
	switch {
	case size < 0:
		return page, fmt.Errorf("page size %d: must not be negative", size)
	case size == 0:
		size = 100
	case size > MaxPageSize:
		size = MaxPageSize
	}
	after, err := decodePageToken(r.kind, opts.PageToken)
	if err != nil {
		return page, err
	}
	recs, rev, more, err := r.s.scan(r.kind, after, size, func(v []byte) (bool, error) {
		if len(opts.Selector) == 0 {
			return true, nil
		}
		obj, err := r.decode(v)
		if err != nil {
			return false, err
		}
		return opts.Selector.Matches(obj.GetMetadata().GetLabels()), nil
	})
	if err != nil {
		return page, err
	}
	for _, rec := range recs {
		obj, err := r.decode(rec.value)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, obj)
	}
	if more && len(recs) > 0 {
		page.NextPageToken = encodePageToken(r.kind, recs[len(recs)-1].name)
	}
	page.ResourceVersion = strconv.FormatInt(rev, 10)
	return page, nil
}

// Event is one change seen by Watch.
type Event[T Object] struct {
	Type   EventType
	Object T
}

// ErrBadVersion: a resource version that is not one this store wrote.
var ErrBadVersion = errors.New("invalid resource version")

// Watch calls send for every change of the kind after resourceVersion,
// oldest first, until ctx is done, send fails or the store closes. With an
// empty resourceVersion it first sends the current objects as Added, then a
// Bookmark at the version they were read at. A version older than the kept
// history fails with ErrCompacted: list again and watch from the list's
// version.
func (r *Repository[T]) Watch(ctx context.Context, resourceVersion string, send func(Event[T]) error) error {
	wake, cancel := r.s.hub.subscribe(r.kind)
	defer cancel()
	var from int64
	if resourceVersion == "" {
		rev, err := r.sendState(ctx, send)
		if err != nil {
			return err
		}
		from = rev
	} else {
		v, err := strconv.ParseInt(resourceVersion, 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("%w %q: want a version from a list, get or watch", ErrBadVersion, resourceVersion)
		}
		if cur := r.s.Revision(); v > cur {
			return fmt.Errorf("%w %q: newer than the store's revision %d", ErrBadVersion, resourceVersion, cur)
		}
		from = v
	}
	for {
		for {
			entries, err := r.s.readLog(r.kind, from, 256)
			if err != nil {
				return err
			}
			for _, e := range entries {
				obj, err := r.decode(e.value)
				if err != nil {
					return err
				}
				// Deleted carries the last stored state; give it the
				// deletion's version so clients can resume after it.
				obj.GetMetadata().ResourceVersion = strconv.FormatInt(e.rev, 10)
				if err := send(Event[T]{Type: e.typ, Object: obj}); err != nil {
					return err
				}
				from = e.rev
			}
			if len(entries) < 256 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-wake:
			if !ok {
				return errors.New("store closed")
			}
		}
	}
}

// sendState sends every object as Added and a Bookmark; it returns the
// revision the objects were read at.
func (r *Repository[T]) sendState(ctx context.Context, send func(Event[T]) error) (int64, error) {
	opts := ListOptions{PageSize: MaxPageSize}
	var rev string
	for {
		page, err := r.List(ctx, opts)
		if err != nil {
			return 0, err
		}
		if rev == "" {
			rev = page.ResourceVersion
		}
		for _, obj := range page.Items {
			if err := send(Event[T]{Type: Added, Object: obj}); err != nil {
				return 0, err
			}
		}
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	// Later pages may be read at newer revisions; resuming from the first
	// page's revision replays those changes, which is harmless (at least
	// once) and never loses one.
	var zero T
	mark := zero.ProtoReflect().New().Interface().(T)
	setMetadata(mark, &v1.ObjectMeta{ResourceVersion: rev})
	if err := send(Event[T]{Type: Bookmark, Object: mark}); err != nil {
		return 0, err
	}
	return strconv.ParseInt(rev, 10, 64)
}

// sameSpec reports whether a and b have equal spec fields (or, for kinds
// without a spec, equal contents apart from metadata and status).
func sameSpec(a, b proto.Message) bool {
	ra, rb := a.ProtoReflect(), b.ProtoReflect()
	if f := ra.Descriptor().Fields().ByName("spec"); f != nil {
		return proto.Equal(ra.Get(f).Message().Interface(), rb.Get(f).Message().Interface())
	}
	ca, cb := proto.Clone(a), proto.Clone(b)
	for _, m := range []protoreflect.Message{ca.ProtoReflect(), cb.ProtoReflect()} {
		for _, n := range []protoreflect.Name{"metadata", "status"} {
			if f := m.Descriptor().Fields().ByName(n); f != nil {
				m.Clear(f)
			}
		}
	}
	return proto.Equal(ca, cb)
}

// copyField sets dst's field called name to src's.
func copyField(dst, src proto.Message, name protoreflect.Name) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	f := d.Descriptor().Fields().ByName(name)
	if f == nil {
		return
	}
	if s.Has(f) {
		d.Set(f, protoreflect.ValueOfMessage(proto.Clone(s.Get(f).Message().Interface()).ProtoReflect()))
	} else {
		d.Clear(f)
	}
}

func setMetadata(m proto.Message, md *v1.ObjectMeta) {
	r := m.ProtoReflect()
	if f := r.Descriptor().Fields().ByName("metadata"); f != nil {
		r.Set(f, protoreflect.ValueOfMessage(md.ProtoReflect()))
	}
}

func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Page tokens are base64 of "<kind>/<last name>", so a token of another
// kind is refused.
func encodePageToken(kind, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "/" + last))
}

func decodePageToken(kind, tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", fmt.Errorf("%w: not a token from a %s list", ErrBadPageToken, kind)
	}
	k, last, ok := strings.Cut(string(b), "/")
	if !ok || k != kind || last == "" {
		return "", fmt.Errorf("%w: not a token from a %s list", ErrBadPageToken, kind)
	}
	return last, nil
}
