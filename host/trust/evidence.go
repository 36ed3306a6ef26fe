package trust

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Evidence kinds. Each is one observation for (Positive) or against a
// subject; Weight says how much it counts.
const (
	EvidenceTask      = "task"      // an agent's task result
	EvidenceCanary    = "canary"    // a canary verdict
	EvidencePolicy    = "policy"    // a policy violation (or a clean audit, positive)
	EvidenceCrash     = "crash"     // the agent crashed
	EvidenceOOM       = "oom"       // the agent was killed for its memory
	EvidenceTrap      = "trap"      // a plugin instance trapped
	EvidenceTimeout   = "timeout"   // a plugin call ran past its deadline
	EvidenceMemory    = "memory"    // a plugin ran out of memory or passed its high-water mark
	EvidenceOutput    = "output"    // a plugin's response broke the envelope or a size limit
	EvidencePanic     = "panic"     // a plugin panicked (its SDK caught it)
	EvidenceError     = "error"     // a plugin (or native scorer) answered an error instead of a result
	EvidenceInvalid   = "invalid"   // a result the host had to correct, e.g. clamped into [0, 1]
	EvidenceSignature = "signature" // a signature verified (positive) or did not (negative)
	EvidenceBenchmark = "benchmark" // a benchmark or gate outcome
	EvidenceCall      = "call"      // interactions of one agent with another; Detail is a CallDetail
	EvidenceOK        = "ok"        // a plain good outcome recorded by a caller that wants one
)

// evidenceKinds lists the known kinds in a stable order (for messages).
func evidenceKinds() []string {
	return []string{EvidenceTask, EvidenceCanary, EvidencePolicy, EvidenceCrash, EvidenceOOM, EvidenceTrap,
		EvidenceTimeout, EvidenceMemory, EvidenceOutput, EvidencePanic, EvidenceError, EvidenceInvalid,
		EvidenceSignature, EvidenceBenchmark, EvidenceCall, EvidenceOK}
}

// Limits on one record, so that a whole log fits a plugin's request.
const (
	maxDetailBytes = 4096
	maxSourceBytes = 253
)

// Evidence is one record of the log.
type Evidence struct {
	// Seq numbers the subject's records from 1, in append order; the Log
	// assigns it (leave it 0 when appending).
	Seq uint64 `json:"seq"`
	// Time is when it happened; required. Scorers age evidence from it.
	Time time.Time `json:"time"`
	// Kind is one of the Evidence* constants.
	Kind string `json:"kind"`
	// Positive says it speaks for the subject.
	Positive bool `json:"positive"`
	// Weight is how much it counts: finite and not negative (0 counts for
	// nothing). For a call record, the number of interactions.
	Weight float64 `json:"weight"`
	// Detail is free text for people, at most 4 KiB; for kind "call", the
	// JSON of a CallDetail.
	Detail string `json:"detail,omitempty"`
	// Source says who recorded it, e.g. "canary", "evolve", "trust".
	Source string `json:"source,omitempty"`
}

// CallDetail is the Detail of a "call" record: From called To, and the
// record's Positive says whether From was satisfied, its Weight how many
// interactions it covers. From and To are subject ids (Subject.String).
type CallDetail struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// CallEvidence returns a call record: weight interactions of from with to at
// time t, satisfied or not. It is what graph scorers (eigentrust) read.
func CallEvidence(t time.Time, from, to Subject, satisfied bool, weight float64, source string) Evidence {
	d, _ := json.Marshal(CallDetail{From: from.String(), To: to.String()}) // two strings: cannot fail
	return Evidence{Time: t, Kind: EvidenceCall, Positive: satisfied, Weight: weight, Detail: string(d), Source: source}
}

// ParseCallDetail reads and checks the Detail of a call record.
func ParseCallDetail(detail string) (CallDetail, error) {
	var d CallDetail
	if err := json.Unmarshal([]byte(detail), &d); err != nil {
		return d, fmt.Errorf(`call detail %.80q is not the JSON object {"from": ID, "to": ID}: %v (build call records with CallEvidence)`, detail, err)
	}
	for _, f := range []struct{ what, id string }{{"from", d.From}, {"to", d.To}} {
		if _, err := ParseSubject(f.id); err != nil {
			return d, fmt.Errorf("call detail: %s: %w", f.what, err)
		}
	}
	return d, nil
}

// Validate reports what is wrong with e as a record to append: a zero time,
// an unknown kind, a negative or non-finite weight, an oversized detail or
// source, a call record without a CallDetail, or a Seq already set.
func (e Evidence) Validate() error {
	switch {
	case e.Seq != 0:
		return fmt.Errorf("evidence: seq is %d: the log assigns sequence numbers; leave it 0", e.Seq)
	case e.Time.IsZero():
		return fmt.Errorf("evidence %s: time is not set: give the time it happened (scorers age evidence from it)", e.Kind)
	case !slices.Contains(evidenceKinds(), e.Kind):
		return fmt.Errorf("evidence: kind %q is unknown: use one of %s", e.Kind, strings.Join(evidenceKinds(), ", "))
	case math.IsNaN(e.Weight) || math.IsInf(e.Weight, 0) || e.Weight < 0:
		return fmt.Errorf("evidence %s: weight %v must be a finite number, 0 or more", e.Kind, e.Weight)
	case len(e.Detail) > maxDetailBytes:
		return fmt.Errorf("evidence %s: detail is %d bytes: at most %d (keep it to what a person needs)", e.Kind, len(e.Detail), maxDetailBytes)
	case len(e.Source) > maxSourceBytes:
		return fmt.Errorf("evidence %s: source is %d bytes: at most %d", e.Kind, len(e.Source), maxSourceBytes)
	}
	if e.Kind == EvidenceCall {
		if _, err := ParseCallDetail(e.Detail); err != nil {
			return fmt.Errorf("evidence call: %w", err)
		}
	}
	return nil
}
