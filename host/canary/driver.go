package canary

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Env is what Drive does a rollout's decisions with: the replica sets, the
// traffic split and the metrics of one canary.
type Env interface {
	// Start starts the canary and a fresh baseline replica set of the live
	// version, beside the live one and without traffic; on an error it
	// leaves nothing running.
	Start(ctx context.Context) error
	// SetWeights splits the traffic, in percent summing to 100.
	SetWeights(ctx context.Context, live, baseline, canary int) error
	// Collect returns the baseline's and the canary's samples of [from, to),
	// and whether the canary crashed in it.
	Collect(ctx context.Context, from, to time.Time) (Observation, error)
	// Promote gives the canary's version all the traffic and removes the
	// baseline and the old version.
	Promote(ctx context.Context) error
	// Rollback gives the live version all the traffic and removes the
	// canary and the baseline.
	Rollback(ctx context.Context) error
}

// Clock is the time Drive waits by.
type Clock interface {
	Now() time.Time
	// After sends the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Drive carries a rollout out in env: it starts the canary and a fresh
// baseline, sets each stage's weights, collects and observes every
// interval, and promotes or rolls back as the rollout decides. While the
// rollout is paused it waits for Resume, Promote or Rollback; a manual
// Promote or Rollback takes effect at once. It returns the final status:
// with a nil error when the rollout was promoted or rolled back as decided.
//
// An error of env ends the rollout as Failed, after rolling the canary back
// once Start has succeeded, so that no canary is left half rolled out. The
// end of ctx rolls back too (no controller is left to judge the canary),
// with ctx's values but without its cancellation; so does an observation
// the judge refuses. Drive refuses a finished rollout.
func Drive(ctx context.Context, r *Rollout, env Env, clock Clock) (Status, error) {
	d := driver{r: r, env: env, clock: clock}
	if st := r.Status(); st.Phase.Finished() {
		return st, fmt.Errorf("canary: drive: %w as %s; start a new rollout", ErrFinished, st.Phase)
	}
	if err := env.Start(ctx); err != nil {
		r.fail(clock.Now(), fmt.Sprintf("starting the canary and a fresh baseline failed: %v; nothing took traffic.", err))
		return r.Status(), fmt.Errorf("canary: starting the canary and a fresh baseline: %w; nothing took traffic: fix the environment and start a new rollout", err)
	}
	interval := r.Plan().Interval
	applied := Split{Live: 100}
	for {
		st, changed := r.Watch()
		if st.Phase.Finished() {
			return d.finish(ctx, st)
		}
		if s := st.Split; s != applied {
			if err := env.SetWeights(ctx, s.Live, s.Baseline, s.Canary); err != nil {
				return d.abort(ctx, fmt.Sprintf("setting the weights live %d%%, baseline %d%%, canary %d%%", s.Live, s.Baseline, s.Canary), err)
			}
			applied = s
		}
		if st.Phase == PhasePaused {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return d.stop(ctx)
			}
		}
		from := clock.Now()
		select {
		case <-clock.After(interval):
		case <-changed: // someone acted: look again, and start the interval over
			continue
		case <-ctx.Done():
			return d.stop(ctx)
		}
		to := clock.Now()
		obs, err := env.Collect(ctx, from, to)
		if err != nil {
			return d.abort(ctx, fmt.Sprintf("collecting the samples of %s to %s", from.Format(time.RFC3339), to.Format(time.RFC3339)), err)
		}
		if _, err := r.Observe(to, obs); err != nil {
			if errors.Is(err, ErrFinished) || errors.Is(err, ErrPaused) {
				continue // someone acted while the samples were collected
			}
			return d.abort(ctx, "judging the interval", err)
		}
	}
}

type driver struct {
	r     *Rollout
	env   Env
	clock Clock
}

// finish carries out a finished rollout's end.
func (d driver) finish(ctx context.Context, st Status) (Status, error) {
	switch st.Phase {
	case PhasePromoted:
		if err := d.env.Promote(ctx); err != nil {
			return d.failAndRollBack(ctx, "promoting", err)
		}
		return d.r.Status(), nil
	case PhaseRolledBack:
		if err := d.env.Rollback(context.WithoutCancel(ctx)); err != nil {
			d.r.fail(d.clock.Now(), fmt.Sprintf("rolling back failed: %v; the canary may still take traffic: roll it back by hand.", err))
			return d.r.Status(), fmt.Errorf("canary: rolling back: %w; the canary may still take traffic: roll it back by hand", err)
		}
		return d.r.Status(), nil
	default:
		return st, fmt.Errorf("canary: the rollout failed: %s", st.Reason)
	}
}

// abort ends the rollout on an error of env: Failed, rolled back; at the
// end of ctx, as stop does.
func (d driver) abort(ctx context.Context, what string, err error) (Status, error) {
	if ctx.Err() != nil {
		return d.stop(ctx)
	}
	return d.failAndRollBack(ctx, what, err)
}

func (d driver) failAndRollBack(ctx context.Context, what string, err error) (Status, error) {
	d.r.fail(d.clock.Now(), fmt.Sprintf("%s failed: %v; rolling back.", what, err))
	if rerr := d.env.Rollback(context.WithoutCancel(ctx)); rerr != nil {
		d.r.fail(d.clock.Now(), fmt.Sprintf("rolling back after %s failed: %v; the canary may still take traffic: roll it back by hand.", what, rerr))
		return d.r.Status(), fmt.Errorf("canary: %s: %w; rolling back failed too (%w): the canary may still take traffic, roll it back by hand", what, err, rerr)
	}
	return d.r.Status(), fmt.Errorf("canary: %s: %w; the canary was rolled back: fix the environment and start a new rollout", what, err)
}

// stop rolls back at the end of ctx, unless someone has just ended the
// rollout, whose end it then carries out.
func (d driver) stop(ctx context.Context) (Status, error) {
	cause := context.Cause(ctx)
	if _, err := d.r.Rollback(d.clock.Now(), Actor, fmt.Sprintf("the controller stopped (%v), and no canary is left unwatched", cause)); err != nil && !errors.Is(err, ErrFinished) {
		return d.failAndRollBack(ctx, "rolling back as the controller stopped", err)
	}
	st, err := d.finish(context.WithoutCancel(ctx), d.r.Status())
	return st, errors.Join(fmt.Errorf("canary: the rollout was stopped: %w; it ended %s: start a new rollout to try again", cause, st.Phase), err)
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
