package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// printError writes err as "Error: ..." lines. A gRPC status becomes
// "Error: CODE: message" followed by its field violations; an error joined
// from several prints one line each.
func printError(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			printError(w, e)
		}
		return
	}
	fmt.Fprintf(w, "Error: %s\n", describeError(err))
}

// describeError renders an error for people. gRPC statuses, possibly
// wrapped, are shown with their canonical code name and the field
// violations of a google.rpc.BadRequest detail.
func describeError(err error) string {
	var prefix string
	st, ok := grpcStatus(err)
	if !ok {
		return err.Error()
	}
	// keep context added by fmt.Errorf("...: %w", err) around a status
	if msg := err.Error(); !strings.HasPrefix(msg, "rpc error:") {
		if i := strings.Index(msg, "rpc error:"); i > 0 {
			prefix = msg[:i]
		}
	}
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(codeName(st.Code()))
	b.WriteString(": ")
	b.WriteString(st.Message())
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				if strings.Contains(st.Message(), v.GetField()) && strings.Contains(st.Message(), v.GetDescription()) {
					continue // the message already says it
				}
				fmt.Fprintf(&b, "\n  %s: %s", v.GetField(), v.GetDescription())
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				fmt.Fprintf(&b, "\n  %s %s: %s", v.GetType(), v.GetSubject(), v.GetDescription())
			}
		case *errdetails.ResourceInfo:
			if d.GetResourceName() != "" {
				fmt.Fprintf(&b, "\n  resource: %s %s", d.GetResourceType(), d.GetResourceName())
			}
		}
	}
	if hint := codeHint(st.Code()); hint != "" {
		b.WriteString("\n")
		b.WriteString(hint)
	}
	var h hintedError
	if errors.As(err, &h) {
		b.WriteString("\nhint: ")
		b.WriteString(h.hint)
	}
	return b.String()
}

// hintedError is an error with a suggestion for the way out, printed on a
// "hint:" line after it.
type hintedError struct {
	err  error
	hint string
}

// Error returns the message and the hint.
func (e hintedError) Error() string { return e.err.Error() + "\nhint: " + e.hint }

// Unwrap returns the error without the hint.
func (e hintedError) Unwrap() error { return e.err }

// withHint adds a hint to err.
func withHint(err error, format string, a ...any) error {
	return hintedError{err: err, hint: fmt.Sprintf(format, a...)}
}

// grpcStatus finds a gRPC status in err's chain.
func grpcStatus(err error) (*status.Status, bool) {
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		if st := gs.GRPCStatus(); st != nil && st.Code() != codes.OK {
			return st, true
		}
	}
	return nil, false
}

// codeHint suggests a way out for codes that usually mean a setup problem.
func codeHint(c codes.Code) string {
	switch c {
	case codes.Unauthenticated:
		return "hint: pass the token with --token or SWARM_TOKEN, or set it in the context (swarmctl config set-context NAME --token-file <data-dir>/token)"
	case codes.Unavailable:
		return "hint: is swarmd running at that address? Without --server, swarmctl runs in local mode"
	}
	return ""
}

// codeName spells a code the canonical way: NOT_FOUND, INVALID_ARGUMENT.
func codeName(c codes.Code) string {
	s := c.String()
	if c == codes.OK {
		return "OK"
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// isCode reports whether err carries the gRPC code c.
func isCode(err error, c codes.Code) bool {
	st, ok := grpcStatus(err)
	return ok && st.Code() == c
}
