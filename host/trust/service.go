package trust

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stratoswarm/stratoswarm/host/plugin"
)

// SourceService is the Source of the evidence a Service appends.
const SourceService = "trust"

// ServiceOptions configure a Service.
type ServiceOptions struct {
	// Log is the evidence log; required.
	Log *Log
	// Scorer scores; required.
	Scorer Scorer
	// ScorerSubject is the plugin version behind Scorer: its failures and
	// clamped answers are appended to this subject's log. Zero takes it
	// from the Scorer's Subject method (PluginScorer has one).
	ScorerSubject Subject
	// CallGraph makes requests carry the call records of the whole log
	// (Log.Calls) instead of the subject's own, for graph scorers such as
	// the eigentrust plugin. The subject's other records are sent as ever.
	CallGraph bool
}

// Service scores subjects from their log through a Scorer. It keeps the
// last good score of each subject in memory, for when the scorer fails. It
// is safe for concurrent use.
type Service struct {
	log           *Log
	scorer        Scorer
	scorerSubject Subject
	callGraph     bool

	mu   sync.Mutex
	last map[Subject]TrustScore
}

// NewService checks opts and returns a Service.
func NewService(opts ServiceOptions) (*Service, error) {
	if opts.Log == nil || opts.Scorer == nil {
		return nil, errors.New("trust service: ServiceOptions.Log and ServiceOptions.Scorer are required")
	}
	if opts.ScorerSubject == (Subject{}) {
		if named, ok := opts.Scorer.(interface{ Subject() Subject }); ok {
			opts.ScorerSubject = named.Subject()
		}
	}
	if err := opts.ScorerSubject.Validate(); err != nil {
		return nil, fmt.Errorf("trust service: ServiceOptions.ScorerSubject (the plugin version failures are recorded against): %w", err)
	}
	return &Service{log: opts.Log, scorer: opts.Scorer, scorerSubject: opts.ScorerSubject, callGraph: opts.CallGraph, last: map[Subject]TrustScore{}}, nil
}

// Scorer is the plugin version (or native scorer's subject) that scores:
// its failures and clamped answers are appended to this subject's log.
func (s *Service) Scorer() Subject { return s.scorerSubject }

// Score scores the subject's whole log as of now. now must be given, not
// read from the clock, so that scoring the same log at the same now gives
// the same score (replay).
//
// Values outside [0, 1] are clamped (Clamped, Reason) and the clamp is
// appended as "invalid" evidence against the scorer. When the scorer fails
// (an error, a trap, a timeout, a NaN), the failure is appended as evidence
// against the scorer and Score returns the subject's previous score, or
// Prior if it has none, marked Stale, with a nil error: the previous score
// stands. Errors are for a bad subject or now, an unreadable log and a
// done ctx.
func (s *Service) Score(ctx context.Context, subject Subject, now time.Time) (TrustScore, error) {
	if err := subject.Validate(); err != nil {
		return TrustScore{}, fmt.Errorf("score: %w", err)
	}
	if now.IsZero() {
		return TrustScore{}, fmt.Errorf("score %s: now is zero: pass the time to score at (a fixed one, so that a replay scores the same)", subject)
	}
	now = now.UTC()
	evidence, seq, err := s.evidence(ctx, subject)
	if err != nil {
		return TrustScore{}, fmt.Errorf("score %s: %w", subject, err)
	}
	score, err := s.callScorer(ctx, ScoreRequest{Subject: subject, Now: now, Evidence: evidence})
	var changed []string
	if err == nil {
		score, changed, err = clamp(score)
		if err != nil {
			err = fmt.Errorf("%w: %v", errInvalidResult, err)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return TrustScore{}, fmt.Errorf("score %s: %w", subject, err)
		}
		return s.failed(ctx, subject, now, err)
	}
	score.Seq, score.Stale = seq, false
	score.Clamped, score.Reason = len(changed) > 0, clampReason(changed)
	if score.Clamped {
		detail := fmt.Sprintf("scoring %s: %s", subject, score.Reason)
		if err := s.record(ctx, now, EvidenceInvalid, detail); err != nil {
			return TrustScore{}, fmt.Errorf("score %s: the scorer's answer was clamped (%s) and recording that failed: %w", subject, score.Reason, err)
		}
	}
	s.mu.Lock()
	if prev, ok := s.last[subject]; !ok || prev.Seq <= score.Seq {
		s.last[subject] = score
	}
	s.mu.Unlock()
	return score, nil
}

// evidence reads what the scorer gets: the subject's log, with the call
// records of the whole log in place of its own under CallGraph. seq is the
// subject's last Seq.
func (s *Service) evidence(ctx context.Context, subject Subject) ([]Evidence, uint64, error) {
	own, err := s.log.List(ctx, subject, 0)
	if err != nil {
		return nil, 0, err
	}
	var seq uint64
	if len(own) > 0 {
		seq = own[len(own)-1].Seq
	}
	if !s.callGraph {
		return own, seq, nil
	}
	calls, err := s.log.Calls(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Evidence, 0, len(own)+len(calls))
	for _, e := range own {
		if e.Kind != EvidenceCall {
			out = append(out, e)
		}
	}
	return append(out, calls...), seq, nil
}

// callScorer runs the scorer, turning a panic of a native scorer into an
// error.
func (s *Service) callScorer(ctx context.Context, req ScoreRequest) (score TrustScore, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errScorerPanic, r)
		}
	}()
	return s.scorer.Score(ctx, req)
}

// failed records a scorer failure and returns the previous score.
func (s *Service) failed(ctx context.Context, subject Subject, now time.Time, cause error) (TrustScore, error) {
	kind := failureKind(cause)
	if err := s.record(ctx, now, kind, fmt.Sprintf("scoring %s: %v", subject, cause)); err != nil {
		return TrustScore{}, fmt.Errorf("score %s: the scorer failed (%v) and recording that failed: %w", subject, cause, err)
	}
	s.mu.Lock()
	prev, ok := s.last[subject]
	s.mu.Unlock()
	if !ok {
		prev = Prior()
	}
	prev.Stale, prev.Clamped = true, false
	prev.Reason = fmt.Sprintf("scorer %s failed (%s, recorded against it): %v; the previous score stands", s.scorerSubject, kind, cause)
	return prev, nil
}

// record appends evidence against the scorer's plugin version.
func (s *Service) record(ctx context.Context, now time.Time, kind, detail string) error {
	if len(detail) > maxDetailBytes {
		detail = detail[:maxDetailBytes-3] + "..."
	}
	_, err := s.log.Append(ctx, s.scorerSubject, Evidence{Time: now, Kind: kind, Weight: 1, Detail: detail, Source: SourceService})
	return err
}

var (
	// errInvalidResult: the scorer answered something that is not a score.
	errInvalidResult = errors.New("invalid trust score")
	// errScorerPanic: a native scorer panicked.
	errScorerPanic = errors.New("the scorer panicked")
)

// failureKind is the evidence kind of a scorer failure.
func failureKind(err error) string {
	var f *plugin.Failure
	var g *plugin.GuestError
	switch {
	case errors.As(err, &f):
		return f.Kind // trap, timeout, memory, output, panic
	case errors.As(err, &g):
		return EvidenceError
	case errors.Is(err, context.DeadlineExceeded):
		return EvidenceTimeout
	case errors.Is(err, errInvalidResult):
		return EvidenceInvalid
	case errors.Is(err, errScorerPanic):
		return EvidencePanic
	}
	return EvidenceError
}

// Admit is the trust gate: it scores the subject and admits it when the
// score's lower bound is at least threshold (in [0, 1]). Ranking on the
// lower bound keeps a subject with little evidence out until the evidence
// is in. A Stale score gates like a fresh one: the previous score stands.
func (s *Service) Admit(ctx context.Context, subject Subject, threshold float64, now time.Time) (bool, TrustScore, error) {
	if math.IsNaN(threshold) || threshold < 0 || threshold > 1 {
		return false, TrustScore{}, fmt.Errorf("admit %s: threshold %v is outside [0, 1]", subject, threshold)
	}
	score, err := s.Score(ctx, subject, now)
	if err != nil {
		return false, score, err
	}
	return score.LowerBound >= threshold, score, nil
}

// Ranked is a subject with its score.
type Ranked struct {
	Subject Subject
	TrustScore
}

// Rank scores the subjects and orders them best first: by lower bound,
// then score, then id, so equal scores rank the same on every run.
func (s *Service) Rank(ctx context.Context, subjects []Subject, now time.Time) ([]Ranked, error) {
	out := make([]Ranked, 0, len(subjects))
	for _, subj := range subjects {
		score, err := s.Score(ctx, subj, now)
		if err != nil {
			return nil, err
		}
		out = append(out, Ranked{Subject: subj, TrustScore: score})
	}
	slices.SortFunc(out, func(a, b Ranked) int {
		switch {
		case a.LowerBound != b.LowerBound:
			return cmpDesc(a.LowerBound, b.LowerBound)
		case a.Score != b.Score:
			return cmpDesc(a.Score, b.Score)
		}
		return strings.Compare(a.Subject.String(), b.Subject.String())
	})
	return out, nil
}

func cmpDesc(a, b float64) int {
	if a > b {
		return -1
	}
	return 1
}
