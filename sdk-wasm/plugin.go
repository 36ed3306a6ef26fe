package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Strategy is an ask/tell optimiser, the plugin kind "strategy". The engine
// calls Init once (or Restore on a fresh instance), then alternates Propose
// and Observe, and takes a Snapshot whenever it persists the run.
//
// An instance serves one run and is never called concurrently. Everything
// random must come from the seed (see NewRand) so that the same calls give the
// same proposals.
type Strategy interface {
	// Init starts a run. The SDK has already checked the request version and
	// that the search space is well formed (SearchSpace.Validate).
	Init(req InitRequest) error
	// Propose returns up to n (n > 0) new candidates with ids unique within
	// the run. Returning fewer is allowed (e.g. at the end of a schedule);
	// returning more is an error.
	Propose(n int) ([]Candidate, error)
	// Observe takes the evaluations of earlier candidates.
	Observe(results []Result) error
	// Snapshot returns everything needed to continue the run, as JSON.
	Snapshot() (json.RawMessage, error)
	// Restore loads a Snapshot into a fresh instance (Init is not called);
	// afterwards the same calls must give the same results as on the
	// instance that took the snapshot.
	Restore(state json.RawMessage) error
}

// TrustScorer turns an evidence log into a trust score, the plugin kind
// "trust". Replaying the same request must give the same score.
type TrustScorer interface {
	// Score computes a score from the request's evidence as of req.Now. The
	// SDK sets the result's Version.
	Score(req ScoreRequest) (TrustScore, error)
}

// Personality shapes how an agent behaves and evolves, the plugin kind
// "personality".
type Personality interface {
	// Adjust returns the adjustment for an agent. The SDK sets the result's
	// Version.
	Adjust(req AdjustRequest) (Adjustment, error)
}

// Error codes of the envelope (ABI.md §2).
const (
	// CodeInvalid says the request was wrong.
	CodeInvalid = "invalid"
	// CodeFailed says the plugin could not do it.
	CodeFailed = "failed"
	// CodePanic says the plugin panicked and the SDK caught it.
	CodePanic = "panic"
	// CodeUnimplemented says the plugin has no such operation.
	CodeUnimplemented = "unimplemented"
)

// Error is an error with an envelope code. An implementation returns one (see
// Errorf) to choose the code; any other error is reported as CodeFailed with
// its message.
type Error struct {
	// Code is one of CodeInvalid, CodeFailed, CodePanic, CodeUnimplemented.
	Code string `json:"code"`
	// Message says what went wrong, for people.
	Message string `json:"message"`
}

// Error returns "code: message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with code and a formatted message, e.g.
// sdk.Errorf(sdk.CodeInvalid, "config: population %d must be positive", n).
func Errorf(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// toError turns any error into an envelope error with one of the four codes;
// an *Error with another code becomes CodeFailed, keeping that code in the
// message.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e != nil {
		switch e.Code {
		case CodeInvalid, CodeFailed, CodePanic, CodeUnimplemented:
			return &Error{Code: e.Code, Message: e.Message}
		case "":
			return &Error{Code: CodeFailed, Message: e.Message}
		}
		return &Error{Code: CodeFailed, Message: e.Error()}
	}
	return &Error{Code: CodeFailed, Message: err.Error()}
}
