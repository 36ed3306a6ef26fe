package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// pageSize is how many objects a list asks for per page.
const pageSize = 100

// updateAttempts bounds read-modify-write retries after ABORTED.
const updateAttempts = 5

// listFlags are the flags every ls command shares.
type listFlags struct {
	selector string
	watch    bool
	limit    int
}

// bind declares the flags on cmd.
func (f *listFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.selector, "selector", "l", "", "label selector: comma-separated key=value, key!=value or key terms")
	cmd.Flags().BoolVarP(&f.watch, "watch", "w", false, "after listing, print a row for every change until interrupted")
	cmd.Flags().IntVar(&f.limit, "limit", 0, "list at most N objects (0: all, fetched in pages of 100)")
}

// check validates the flags before any call.
func (f *listFlags) check(names []string) error {
	if f.limit < 0 {
		return usagef("--limit must not be negative, got %d", f.limit)
	}
	if _, err := store.ParseSelector(f.selector); err != nil {
		return usagef("-l/--selector: %v", err)
	}
	if len(names) > 0 && (f.watch || f.selector != "") {
		return usagef("names cannot be combined with -w/--watch or -l/--selector")
	}
	return nil
}

// collectPages calls fetch page after page until the last page or until
// limit objects (limit 0: no limit).
func collectPages[T any](limit int, fetch func(size int32, token string) ([]T, string, error)) ([]T, error) {
	var out []T
	token := ""
	for {
		size := pageSize
		if limit > 0 && limit-len(out) < size {
			size = limit - len(out)
		}
		items, next, err := fetch(int32(size), token)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if next == "" {
			return out, nil
		}
		if next == token {
			return nil, fmt.Errorf("server returned the same page token twice (%q)", next)
		}
		token = next
	}
}

// watchSpec describes how to watch and print one kind.
type watchSpec[T proto.Message] struct {
	header   []string
	row      func(T, time.Time) []string
	labels   func(T) map[string]string
	recv     func() (v1.EventType, T, error)
	selector string
}

// runWatch prints events until the stream ends or ctx is done. Tables get
// an EVENT column; json and yaml print {"type": ..., "object": ...} per
// event (yaml documents separated by ---). The first BOOKMARK marks the end
// of the initial state, which is printed as one aligned block.
func runWatch[T proto.Message](ctx context.Context, w io.Writer, format string, spec watchSpec[T]) error {
	sel, err := store.ParseSelector(spec.selector)
	if err != nil {
		return usagef("-l/--selector: %v", err)
	}
	table := &streamTable{w: w, header: append([]string{"EVENT"}, spec.header...), minWidths: []int{len("MODIFIED")}}
	first := true
	for {
		typ, obj, err := spec.recv()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || isCode(err, codes.Canceled) {
				if format == outputTable {
					table.flush()
				}
				return nil
			}
			return err
		}
		if typ == v1.EventType_BOOKMARK {
			if format == outputTable {
				table.flush()
			}
			continue
		}
		if !sel.Matches(spec.labels(obj)) {
			continue
		}
		if format == outputTable {
			table.add(append([]string{typ.String()}, spec.row(obj, time.Now())...)...)
			continue
		}
		raw, err := messageJSON(obj)
		if err != nil {
			return err
		}
		b, err := json.Marshal(struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}{typ.String(), raw})
		if err != nil {
			return err
		}
		if format == outputYAML && !first {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		first = false
		if err := writeStructured(w, format, b); err != nil {
			return err
		}
	}
}

// completeNames completes object names from the server; it is silent on
// errors. maxArgs is how many names the command takes (0: any number); names
// already on the command line are not offered again.
func (o *options) completeNames(maxArgs int, list func(ctx context.Context, c *conn) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if maxArgs > 0 && len(args) >= maxArgs {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := o.connect(true)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
		defer cancel()
		names, err := list(ctx, c)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		given := map[string]bool{}
		for _, a := range args {
			given[a] = true
		}
		var out []cobra.Completion
		for _, n := range names {
			if !given[n] && len(n) >= len(toComplete) && n[:len(toComplete)] == toComplete {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeContextNames completes context names from the config file.
func (o *options) completeContextNames(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	cfg, _, _, err := o.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return cfg.names(), cobra.ShellCompDirectiveNoFileComp
}

// lsSpec is what an `ls` command knows about its kind; runLs does the rest.
type lsSpec[T proto.Message] struct {
	singular, plural string // "agent", "agents"
	header           []string
	row              func(T, time.Time) []string
	get              func(ctx context.Context, c *conn, name string) (T, error)
	list             func(ctx context.Context, c *conn, selector string, limit int) ([]T, error)
	watch            func(ctx context.Context, o *options, c *conn, selector string) error
}

// runLs is the body every `ls` command shares: watch (-w), or get the named
// objects (or list them all), then print them as a table or -o json|yaml.
func runLs[T proto.Message](ctx context.Context, o *options, lf *listFlags, args []string, spec lsSpec[T]) error {
	if err := lf.check(args); err != nil {
		return err
	}
	c, err := o.connect(false)
	if err != nil {
		return err
	}
	defer c.Close()
	if lf.watch {
		return spec.watch(ctx, o, c, lf.selector)
	}
	var items []T
	if len(args) > 0 {
		for _, name := range args {
			it, err := spec.get(ctx, c, name)
			if err != nil {
				return fmt.Errorf("%s %q: %w", spec.singular, name, err)
			}
			items = append(items, it)
		}
	} else if items, err = spec.list(ctx, c, lf.selector, lf.limit); err != nil {
		return err
	}
	if o.output != outputTable {
		return printList(o.out, o.output, items)
	}
	if len(items) == 0 {
		fmt.Fprintf(o.errOut, "No %s found.\n", spec.plural)
		return nil
	}
	return writeTable(o.out, spec.header, spec.row, items, time.Now())
}

// writeTable writes a header and one row per item.
func writeTable[T any](w io.Writer, header []string, row func(T, time.Time) []string, items []T, now time.Time) error {
	tw := newTable(w)
	writeRow(tw, header...)
	for _, it := range items {
		writeRow(tw, row(it, now)...)
	}
	return tw.Flush()
}

// follower says how to follow one resource of a kind until it ends: get
// it, watch its kind, tell its name and whether it has ended.
type follower[T any] struct {
	kind string // "canary", "evolution": in messages
	// get reads the resource; its error is worded for the user.
	get func(ctx context.Context) (T, error)
	// watch opens a watch of the kind from the start (the initial state
	// carries the current object) and returns its receive function.
	watch func(ctx context.Context) (func() (v1.EventType, T, error), error)
	name  func(T) string
	ended func(T) bool
	// poll is how often get is called against a server without the watch.
	poll time.Duration
}

// errFollowedDeleted ends a follow whose resource was deleted.
var errFollowedDeleted = errors.New("deleted")

// followOne calls seen with resource name's state, first as it is and then
// at every change, until it has ended, and returns that state. It reads the
// kind's watch, reconnecting when the stream breaks (at most
// watchReconnects times in a row), and polls get against a server without
// the watch. On error it returns the last state seen.
func followOne[T any](ctx context.Context, f follower[T], name string, seen func(T)) (T, error) {
	last, err := f.get(ctx)
	if err != nil {
		return last, err
	}
	seen(last)
	if f.ended(last) {
		return last, nil
	}
	failures := 0
	for {
		err := func() error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			recv, err := f.watch(ctx)
			if err != nil {
				return err
			}
			for {
				typ, obj, err := recv()
				if err != nil {
					return err
				}
				if typ == v1.EventType_BOOKMARK || f.name(obj) != name {
					continue
				}
				if typ == v1.EventType_DELETED {
					return errFollowedDeleted
				}
				failures = 0
				last = obj
				seen(obj)
				if f.ended(obj) {
					return nil
				}
			}
		}()
		switch {
		case err == nil:
			return last, nil
		case ctx.Err() != nil:
			return last, ctx.Err()
		case errors.Is(err, errFollowedDeleted):
			return last, fmt.Errorf("%s %s was deleted while being watched", f.kind, name)
		case isCode(err, codes.Unimplemented):
			return pollOne(ctx, f, last, seen)
		case errors.Is(err, io.EOF) || isCode(err, codes.Unavailable):
			if failures++; failures > watchReconnects {
				return last, fmt.Errorf("watch %s %s: the stream broke %d times in a row: %w", f.kind, name, failures, err)
			}
			select {
			case <-time.After(time.Duration(failures) * 200 * time.Millisecond):
			case <-ctx.Done():
				return last, ctx.Err()
			}
		default:
			return last, fmt.Errorf("watch %s %s: %w", f.kind, name, err)
		}
	}
}

// pollOne is followOne against a server without the watch: get every
// f.poll.
func pollOne[T any](ctx context.Context, f follower[T], last T, seen func(T)) (T, error) {
	for {
		select {
		case <-time.After(f.poll):
		case <-ctx.Done():
			return last, ctx.Err()
		}
		obj, err := f.get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, err
		}
		last = obj
		seen(obj)
		if f.ended(obj) {
			return obj, nil
		}
	}
}
