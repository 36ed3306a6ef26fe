package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// newAgentTelemetryCmds are `swarmctl agent top`, `agent events` and
// `agent push-metrics`.
func newAgentTelemetryCmds(o *options) []*cobra.Command {
	return []*cobra.Command{newAgentTopCmd(o), newAgentEventsCmd(o), newAgentPushMetricsCmd(o)}
}

// telemetry is the connection's TelemetryService client.
func (c *conn) telemetry() v1.TelemetryServiceClient { return v1.NewTelemetryServiceClient(c.cc) }

// topColumns are the columns of `agent top`.
func topColumns() []string {
	return []string{"VERSION", "SOURCE", "METRIC", "LABELS", "N", "MEAN", "P50", "P99", "LAST", "AGE", "STATUS"}
}

// newAgentTopCmd is `swarmctl agent top`.
func newAgentTopCmd(o *options) *cobra.Command {
	var (
		version, source, metric string
		window, staleAfter      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "top NAME",
		Short: "Show an agent's telemetry: every series over the last minute",
		Long: `Show what swarmd's telemetry holds of an agent, one row per series: its version,
its source (mesh: the traffic the mesh routed to it; container: each replica's
CPU, memory, OOM kills and whether it is up; agent: what the agent reports on its
/metrics or pushes), the number of samples in the window, their mean, median and
99th percentile, the newest value and its age.

STATUS is STALE when a series' newest sample is older than --stale-after
(default: three scrape intervals, at least 10s): its telemetry stopped
arriving, and no data is not a pass. The replicas swarmd reads follow, with the
error of their last read.

swarmd reads every replica every telemetry-scrape-interval (5s by default) and
keeps the last 15 minutes in memory; --window is at most 15m.`,
		Example: `  # Every series of agent solver over the last minute
  swarmctl agent top solver

  # One version's latency-like series over five minutes, as JSON
  swarmctl agent top solver --version v2 --window 5m -o json

  # The container view only, with a longer staleness for slow pushers
  swarmctl agent top solver --source container --stale-after 2m`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeAgents(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if window <= 0 {
				return usagef("--window must be positive, got %v", window)
			}
			if staleAfter < 0 {
				return usagef("--stale-after must not be negative, got %v", staleAfter)
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			req := &v1.GetTelemetryRequest{Agent: args[0], Version: version, Source: source, Metric: metric, Window: durationpb.New(window)}
			if staleAfter > 0 {
				req.StaleAfter = durationpb.New(staleAfter)
			}
			resp, err := c.telemetry().GetTelemetry(cmd.Context(), req)
			if err != nil {
				return fmt.Errorf("agent %q: %w", args[0], err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, resp)
			}
			return printTop(o.out, o.errOut, resp)
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "only this agent version (default: all)")
	cmd.Flags().StringVar(&source, "source", "", "only this source: mesh, container or agent (default: all)")
	cmd.Flags().StringVar(&metric, "metric", "", "only this metric (default: all)")
	cmd.Flags().DurationVar(&window, "window", time.Minute, "how far back the statistics reach (at most 15m)")
	cmd.Flags().DurationVar(&staleAfter, "stale-after", 0, "mark series without a sample for this long STALE (default: three scrape intervals, at least 10s)")
	_ = cmd.RegisterFlagCompletionFunc("source", cobra.FixedCompletions([]string{"mesh", "container", "agent"}, cobra.ShellCompDirectiveNoFileComp))
	for _, f := range []string{"version", "metric", "window", "stale-after"} {
		_ = cmd.RegisterFlagCompletionFunc(f, cobra.NoFileCompletions)
	}
	return cmd
}

// printTop writes `agent top`'s tables, the series then the replicas, and
// a warning about stale series last.
func printTop(w, errOut io.Writer, resp *v1.GetTelemetryResponse) error {
	now := resp.GetTime().AsTime()
	stale := 0
	defer func() {
		if stale > 0 {
			fmt.Fprintf(errOut, "warning: %d of %d series are stale: no sample in the last %v; their telemetry stopped arriving (see the replicas' errors)\n",
				stale, len(resp.GetSeries()), resp.GetStaleAfter().AsDuration())
		}
	}()
	if len(resp.GetSeries()) == 0 {
		fmt.Fprintf(errOut, "No telemetry for agent %s in the last %v. swarmd reads each replica's /metrics, container and mesh traffic every telemetry-scrape-interval; an agent without /metrics can push: swarmctl agent push-metrics.\n",
			resp.GetAgent(), resp.GetWindow().AsDuration())
	} else {
		tw := newTable(w)
		writeRow(tw, topColumns()...)
		for _, s := range resp.GetSeries() {
			status := "ok"
			if s.GetStale() {
				status = "STALE"
				stale++
			}
			mean, p50, p99 := "-", "-", "-"
			if s.GetCount() > 0 {
				mean, p50, p99 = metricValue(s.GetMetric(), s.GetMean()), metricValue(s.GetMetric(), s.GetP50()), metricValue(s.GetMetric(), s.GetP99())
			}
			writeRow(tw, s.GetVersion(), s.GetSource(), s.GetMetric(), orNone(strings.Join(sortedPairs(s.GetLabels()), ",")),
				strconv.FormatInt(s.GetCount(), 10), mean, p50, p99, metricValue(s.GetMetric(), s.GetLastValue()),
				age(s.GetLastSampleTime(), now), status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(resp.GetTargets()) == 0 {
		return nil
	}
	if len(resp.GetSeries()) > 0 {
		fmt.Fprintln(w)
	}
	tw := newTable(w)
	writeRow(tw, "REPLICA", "STATE", "LAST READ", "LAST SUCCESS", "ERROR")
	for _, tg := range resp.GetTargets() {
		success := "never"
		if tg.GetLastSuccessTime() != nil {
			success = age(tg.GetLastSuccessTime(), now) + " ago"
		}
		read := "never"
		if tg.GetLastScrapeTime() != nil {
			read = age(tg.GetLastScrapeTime(), now) + " ago"
		}
		writeRow(tw, fmt.Sprintf("%s/%d", tg.GetVersion(), tg.GetReplica()), orNone(tg.GetState()), read, success, orNone(tg.GetLastError()))
	}
	return tw.Flush()
}

// metricValue writes a value for a table: bytes in binary units, seconds
// with a unit, anything else with four significant digits.
func metricValue(metric string, v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case strings.HasSuffix(metric, "_bytes") && math.Abs(v) < 1<<62:
		return humanBytes(int64(math.Round(v)))
	case strings.Contains(metric, "_seconds") && !strings.HasSuffix(metric, "_count"):
		return seconds(v)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// seconds writes a duration in seconds with three significant digits and
// the largest unit below it: 250ms, 1.53ms, 12.5s.
func seconds(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0s"
	case a < 1e-6:
		return strconv.FormatFloat(v*1e9, 'g', 3, 64) + "ns"
	case a < 1e-3:
		return strconv.FormatFloat(v*1e6, 'g', 3, 64) + "µs"
	case a < 1:
		return strconv.FormatFloat(v*1e3, 'g', 3, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + "s"
}

// newAgentEventsCmd is `swarmctl agent events`.
func newAgentEventsCmd(o *options) *cobra.Command {
	var limit int32
	cmd := &cobra.Command{
		Use:   "events [NAME]",
		Short: "List telemetry anomaly events, newest first",
		Long: `List the anomalies swarmd's telemetry found, newest first: samples whose z-score
against their series' moving mean and standard deviation reached 3 (a spike
above it or a drop below it), once a series has 30 samples and at least 5 in
the last minute. Z is how many standard deviations the value was from the mean.

swarmd keeps the last 1024 events in memory (its log has all of them); with a
NAME only that agent's are listed.`,
		Example: `  # The latest events of every agent
  swarmctl agent events

  # Agent solver's last 10, as YAML
  swarmctl agent events solver --limit 10 -o yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s takes at most one NAME, got %d", cmd.CommandPath(), len(args))
			}
			return nil
		},
		ValidArgsFunction: o.completeAgents(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit must not be negative, got %d", limit)
			}
			agent := ""
			if len(args) == 1 {
				agent = args[0]
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.telemetry().ListTelemetryEvents(cmd.Context(), &v1.ListTelemetryEventsRequest{Agent: agent, Limit: limit})
			if err != nil {
				return err
			}
			if o.output != outputTable {
				return printList(o.out, o.output, resp.GetEvents())
			}
			if len(resp.GetEvents()) == 0 {
				fmt.Fprintln(o.errOut, "No telemetry events.")
				return nil
			}
			now := time.Now()
			tw := newTable(o.out)
			writeRow(tw, "AGE", "AGENT", "VERSION", "SOURCE", "METRIC", "LABELS", "KIND", "VALUE", "MEAN", "Z")
			for _, ev := range resp.GetEvents() {
				writeRow(tw, age(ev.GetTime(), now), ev.GetAgent(), ev.GetVersion(), ev.GetSource(), ev.GetMetric(),
					orNone(strings.Join(sortedPairs(ev.GetLabels()), ",")), ev.GetKind(),
					metricValue(ev.GetMetric(), ev.GetValue()), metricValue(ev.GetMetric(), ev.GetMean()), strconv.FormatFloat(ev.GetZ(), 'f', 1, 64))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().Int32Var(&limit, "limit", 0, "list at most this many events (default 100, at most 1024)")
	_ = cmd.RegisterFlagCompletionFunc("limit", cobra.NoFileCompletions)
	return cmd
}

// newAgentPushMetricsCmd is `swarmctl agent push-metrics`.
func newAgentPushMetricsCmd(o *options) *cobra.Command {
	var (
		labels []string
		at     string
	)
	cmd := &cobra.Command{
		Use:   "push-metrics NAME VERSION METRIC=VALUE...",
		Short: "Record samples an agent reports about itself",
		Long: `Push samples into swarmd's telemetry for version VERSION of agent NAME (source
agent), for scripts and for agents that expose no /metrics. Each METRIC=VALUE is
one sample: the metric's name follows Prometheus' rule ([a-zA-Z_:][a-zA-Z0-9_:]*)
and the value is a finite number. --label adds labels to every sample; --time
stamps them (RFC 3339, at most 30s ahead of swarmd's clock and 15m behind;
default: now).

The batch (at most 1000 samples) is checked whole: one bad sample refuses all of
them, and the error names the bad ones. A sample older than the newest of its
series is not recorded, and the command fails saying so.`,
		Example: `  # Two gauges of agent solver's version v1
  swarmctl agent push-metrics solver v1 queue_depth=12 cache_hit_ratio=0.93

  # With labels, from a cron job
  swarmctl agent push-metrics solver v1 backlog_items=340 --label queue=ingest

  # An observation made earlier
  swarmctl agent push-metrics solver v1 batch_seconds=41.5 --time 2025-06-01T12:00:00Z`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 {
				return usagef("%s needs NAME, VERSION and at least one METRIC=VALUE; got %d argument(s)", cmd.CommandPath(), len(args))
			}
			return nil
		},
		ValidArgsFunction: o.completeAgents(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version := args[0], args[1]
			lm := map[string]string{}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return usagef("--label %q: want NAME=VALUE, e.g. --label queue=ingest", l)
				}
				lm[k] = v
			}
			if len(lm) == 0 {
				lm = nil
			}
			var ts *timestamppb.Timestamp
			if at != "" {
				t, err := time.Parse(time.RFC3339Nano, at)
				if err != nil {
					return usagef("--time %q: want an RFC 3339 time such as 2025-06-01T12:00:00Z", at)
				}
				ts = timestamppb.New(t)
			}
			points := make([]*v1.MetricPoint, 0, len(args)-2)
			for _, a := range args[2:] {
				m, vs, ok := strings.Cut(a, "=")
				if !ok || m == "" {
					return usagef("%q is not METRIC=VALUE (e.g. queue_depth=12)", a)
				}
				v, err := strconv.ParseFloat(vs, 64)
				if err != nil {
					return usagef("%q: %q is not a number", a, vs)
				}
				points = append(points, &v1.MetricPoint{Metric: m, Value: v, Labels: lm, Time: ts})
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.telemetry().PushMetrics(cmd.Context(), &v1.PushMetricsRequest{Agent: name, Version: version, Points: points})
			if err != nil {
				return fmt.Errorf("agent %q: %w", name, err)
			}
			if o.output != outputTable {
				if err := printMessage(o.out, o.output, resp); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(o.out, "agent/%s@%s: %d of %d samples recorded\n", name, version, resp.GetAccepted(), len(points))
			}
			if resp.GetRejected() > 0 {
				return fmt.Errorf("%d of %d samples were not recorded: %s", resp.GetRejected(), len(points), strings.Join(resp.GetRejections(), "; "))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&labels, "label", nil, "NAME=VALUE label added to every sample (repeatable)")
	cmd.Flags().StringVar(&at, "time", "", "when the samples were observed, RFC 3339 (default: now)")
	for _, f := range []string{"label", "time"} {
		_ = cmd.RegisterFlagCompletionFunc(f, cobra.NoFileCompletions)
	}
	return cmd
}
