package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/canary"
)

// canaryPollInterval is how often canary watch polls GetCanary against a
// server without WatchCanaries.
var canaryPollInterval = time.Second

// The target kinds of a canary.
const (
	canaryTargetAgent  = "Agent"
	canaryTargetPlugin = "Plugin"
)

// canaryColumns are the columns of `canary ls`.
func canaryColumns() []string {
	return []string{"NAME", "TARGET", "VERSIONS", "PHASE", "STEP", "WEIGHT", "SCORE", "AGE"}
}

// newCanaryCmd is `swarmctl canary`.
func newCanaryCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "canary",
		Aliases: []string{"canaries"},
		Short:   "Release agent and plugin versions through judged canaries",
		Long: `A canary runs a new version of an agent (or a plugin) beside a fresh baseline
of the live version, each on the same share of live traffic, and judges their
metrics every interval (a port of Kayenta's judge). A pass steps the canary's
share up through its steps and promotes it after the last; a failing score
rolls it back; a marginal score, or intervals without enough data, pause it
for a person to resume, promote or roll back. Every decision is recorded with
its metric table.

  canary create                     start one
  canary ls|describe|watch          follow them
  canary promote|rollback|resume    act on one by hand`,
		Example: `  swarmctl canary create solver-v2 --agent solver --genome-file best.json \
      --metric tspsolver_request_seconds_mean:increase:critical
  swarmctl canary watch solver-v2
  swarmctl canary describe solver-v2
  swarmctl canary rollback solver-v2 --reason "latency looks wrong"`,
		Args: cobra.NoArgs,
		RunE: showHelp,
	}
	cmd.AddCommand(
		newCanaryCreateCmd(o), newCanaryLsCmd(o), newCanaryDescribeCmd(o), newCanaryWatchCmd(o),
		newCanaryPromoteCmd(o), newCanaryRollbackCmd(o), newCanaryResumeCmd(o),
	)
	return cmd
}

// completeCanaries offers canary names from the server.
func (o *options) completeCanaries(maxArgs int) cobra.CompletionFunc {
	return o.completeNames(maxArgs, func(ctx context.Context, c *conn) ([]string, error) {
		cs, err := listCanaries(ctx, c, "", 0)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(cs))
		for _, cn := range cs {
			names = append(names, cn.GetMetadata().GetName())
		}
		return names, nil
	})
}

// listCanaries reads every page of canaries (or limit of them).
func listCanaries(ctx context.Context, c *conn, selector string, limit int) ([]*v1.Canary, error) {
	return collectPages(limit, func(size int32, token string) ([]*v1.Canary, string, error) {
		resp, err := c.canaries.ListCanaries(ctx, &v1.ListCanariesRequest{PageSize: size, PageToken: token, LabelSelector: selector})
		return resp.GetCanaries(), resp.GetNextPageToken(), err
	})
}

// canaryFlags are the flags of `canary create` that make a CanarySpec.
type canaryFlags struct {
	agent, plugin                  string
	genomeFile, evolution          string
	candidate                      string
	metrics                        []string
	steps                          string
	interval                       time.Duration
	minSamples, maxNoData          int32
	pass, marginal, trustThreshold float64
	canaryVersion, version         string
}

// canarySpecFlagNames are the flags that set the spec (and so exclude -f).
func canarySpecFlagNames() []string {
	return []string{"agent", "plugin", "genome-file", "evolution", "candidate", "metric", "steps", "interval",
		"min-samples", "max-no-data", "pass", "marginal", "trust-threshold", "canary-version", "version"}
}

// bind declares the flags on cmd.
func (f *canaryFlags) bind(o *options, cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.agent, "agent", "", "the agent to release a new version of (it must be Running)")
	fl.StringVar(&f.plugin, "plugin", "", "the plugin to release a new version of (with --version)")
	fl.StringVar(&f.genomeFile, "genome-file", "", `YAML or JSON file with the new version's genome (a parameter: value object, or the output of evolution best -o json), "-" for standard input`)
	fl.StringVar(&f.evolution, "evolution", "", "take the new version's genome from this evolution's candidate (its best unless --candidate)")
	fl.StringVar(&f.candidate, "candidate", "", "the candidate of --evolution to canary (default: the evolution's best)")
	fl.StringArrayVar(&f.metrics, "metric", nil, "metric to judge, NAME[:increase|decrease|either][:critical][:muted][:allow=RATIO] (the change that fails it, default either; critical fails the canary on its own; muted is classified and shown but not scored; allow tolerates a significant change up to that mean ratio, e.g. allow=1.5); repeatable")
	fl.StringVar(&f.steps, "steps", "", "the canary's traffic shares in percent, increasing, each 1-50, e.g. 10,25,50 (default: swarmd's, 10,25,50)")
	fl.DurationVar(&f.interval, "interval", 0, "how long each analysis collects metrics, e.g. 1m (default: swarmd's, 1m)")
	fl.Int32Var(&f.minSamples, "min-samples", 0, "values each side of a metric needs per interval to count as data (0: swarmd's default, 50)")
	fl.Int32Var(&f.maxNoData, "max-no-data", 0, "intervals in a row without data before the canary pauses (0: swarmd's default, 1)")
	fl.Float64Var(&f.pass, "pass", 0, "score out of 100 an analysis needs to pass (default 75)")
	fl.Float64Var(&f.marginal, "marginal", 0, "score out of 100 below which an analysis fails and the canary rolls back; between it and --pass the canary pauses (default 50)")
	fl.Float64Var(&f.trustThreshold, "trust-threshold", 0, "trust lower bound, 0-1, the canary version needs to be promoted (0: swarmd's trust-threshold)")
	fl.StringVar(&f.canaryVersion, "canary-version", "", "name of the new version (default for an agent: the next one, v2 after v1)")
	fl.StringVar(&f.version, "version", "", "the uploaded plugin version to canary (with --plugin)")
	_ = cmd.RegisterFlagCompletionFunc("agent", o.completeAgents(0))
	_ = cmd.RegisterFlagCompletionFunc("plugin", o.completePlugins(0))
	_ = cmd.RegisterFlagCompletionFunc("evolution", o.completeEvolutions(0))
	_ = cmd.RegisterFlagCompletionFunc("candidate", func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if f.evolution == "" {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return o.completeNames(0, func(ctx context.Context, c *conn) ([]string, error) {
			cands, err := listCandidates(ctx, c.evolutions(), f.evolution)
			names := make([]string, 0, len(cands))
			for _, cand := range cands {
				names = append(names, cand.GetMetadata().GetName())
			}
			return names, err
		})(cmd, args, toComplete)
	})
	_ = cmd.RegisterFlagCompletionFunc("version", func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if f.plugin == "" {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return o.completePluginVersions(nil)(cmd, []string{f.plugin}, toComplete)
	})
	for _, n := range []string{"metric", "steps", "interval", "min-samples", "max-no-data", "pass", "marginal", "trust-threshold", "canary-version"} {
		_ = cmd.RegisterFlagCompletionFunc(n, cobra.NoFileCompletions)
	}
	_ = cmd.MarkFlagFilename("genome-file", "json", "yaml", "yml")
}

// spec builds the CanarySpec the flags describe; read reads --genome-file.
func (f *canaryFlags) spec(fs *pflag.FlagSet, read func(string) ([]byte, error)) (*v1.CanarySpec, error) {
	switch {
	case f.agent != "" && f.plugin != "":
		return nil, usagef("--agent and --plugin exclude each other: a canary releases a new version of one agent or one plugin")
	case f.agent == "" && f.plugin == "":
		return nil, usagef("say what to canary: --agent AGENT with --genome-file or --evolution, or --plugin PLUGIN --version V")
	}
	s := &v1.CanarySpec{}
	if f.plugin != "" {
		if f.genomeFile != "" || f.evolution != "" || f.candidate != "" {
			return nil, usagef("--genome-file, --evolution and --candidate make an agent's new version; a plugin canary runs an uploaded version: --plugin %s --version V", f.plugin)
		}
		version := f.version
		if f.canaryVersion != "" {
			if version != "" && version != f.canaryVersion {
				return nil, usagef("--version %s and --canary-version %s conflict: both name the plugin version to canary; give one of them", version, f.canaryVersion)
			}
			version = f.canaryVersion
		}
		if version == "" {
			return nil, usagef("--plugin needs --version V: the uploaded version to canary (swarmctl plugin describe %s lists them)", f.plugin)
		}
		s.TargetKind, s.Target, s.CanaryVersion = canaryTargetPlugin, f.plugin, version
	} else {
		if fs.Changed("version") {
			return nil, usagef("--version names a plugin version (with --plugin); name an agent's new version with --canary-version (default: the next one, v2 after v1)")
		}
		switch {
		case f.genomeFile != "" && f.evolution != "":
			return nil, usagef("--genome-file and --evolution exclude each other: give the new version's genome, or an evolution to take it from")
		case f.genomeFile == "" && f.evolution == "":
			return nil, usagef("an agent canary needs the new version's genome: --genome-file FILE, or --evolution EVO [--candidate ID] to take an evolution's candidate")
		case f.candidate != "" && f.evolution == "":
			return nil, usagef("--candidate names a candidate of an evolution: give --evolution too")
		case len(f.metrics) == 0:
			return nil, usagef("no --metric: name the agent's metrics the canary is judged on, e.g. --metric tspsolver_request_seconds_mean:increase:critical")
		}
		s.TargetKind, s.Target, s.CanaryVersion = canaryTargetAgent, f.agent, f.canaryVersion
		s.Evolution, s.Candidate = f.evolution, f.candidate
		if f.genomeFile != "" {
			data, err := read(f.genomeFile)
			if err != nil {
				return nil, fmt.Errorf("--genome-file: %w", err)
			}
			if s.Genome, err = parseGenome(data); err != nil {
				return nil, usagef("--genome-file %s: %v", manifestName(f.genomeFile), err)
			}
		}
	}
	seen := map[string]bool{}
	for _, arg := range f.metrics {
		m, err := parseCanaryMetric(arg)
		if err != nil {
			return nil, err
		}
		if seen[m.GetName()] {
			return nil, usagef("--metric %q: %s is given twice", arg, m.GetName())
		}
		seen[m.GetName()] = true
		s.Metrics = append(s.Metrics, m)
	}
	if f.steps != "" {
		steps, err := parseSteps(f.steps)
		if err != nil {
			return nil, err
		}
		s.StepWeights = steps
	}
	if fs.Changed("interval") {
		if f.interval <= 0 {
			return nil, usagef("--interval must be positive, e.g. 1m or 30s; got %s", f.interval)
		}
		s.Interval = durationpb.New(f.interval)
	}
	if f.minSamples < 0 {
		return nil, usagef("--min-samples must not be negative, got %d", f.minSamples)
	}
	if f.maxNoData < 0 {
		return nil, usagef("--max-no-data must not be negative, got %d", f.maxNoData)
	}
	s.MinSamples, s.MaxNoData = f.minSamples, f.maxNoData
	if fs.Changed("pass") || fs.Changed("marginal") {
		pass, marginal := 75.0, 50.0 // swarmd's defaults, for the one not given
		if fs.Changed("pass") {
			pass = f.pass
		}
		if fs.Changed("marginal") {
			marginal = f.marginal
		}
		for _, v := range []struct {
			flag string
			v    float64
		}{{"--pass", pass}, {"--marginal", marginal}} {
			if math.IsNaN(v.v) || v.v < 0 || v.v > 100 {
				return nil, usagef("%s %g is outside 0-100: scores are out of 100", v.flag, v.v)
			}
		}
		if pass <= 0 {
			return nil, usagef("--pass must be above 0")
		}
		if marginal > pass {
			return nil, usagef("--marginal %g is above --pass %g: give 0 <= marginal <= pass <= 100 (the defaults are 50 and 75)", marginal, pass)
		}
		s.PassThreshold, s.MarginalThreshold = pass, marginal
	}
	if t := f.trustThreshold; math.IsNaN(t) || t < 0 || t > 1 {
		return nil, usagef("--trust-threshold %g is outside 0-1: it is a lower bound of trust", t)
	}
	s.TrustThreshold = f.trustThreshold
	return s, nil
}

// parseCanaryMetric reads NAME[:increase|decrease|either][:critical][:muted][:allow=R],
// the qualifiers in any order. allow=R is the mean ratio (canary /
// baseline) tolerated in the failing direction: allowed_increase for
// increase (R >= 1), allowed_decrease for decrease (0 < R <= 1), both for
// either (R and 1/R).
func parseCanaryMetric(s string) (*v1.CanaryMetric, error) {
	parts := strings.Split(s, ":")
	m := &v1.CanaryMetric{Name: parts[0]}
	bad := func(why string) error {
		return usagef("--metric %q: %s; want NAME[:increase|decrease|either][:critical][:muted][:allow=RATIO], e.g. tspsolver_request_seconds_mean:increase:critical", s, why)
	}
	if m.Name == "" || strings.ContainsAny(m.Name, " \t") {
		return nil, bad("the metric needs a name without spaces")
	}
	allow := ""
	for _, q := range parts[1:] {
		switch lq := strings.ToLower(q); {
		case lq == "increase" || lq == "decrease" || lq == "either":
			if m.Direction != "" {
				return nil, bad("two directions")
			}
			m.Direction = lq
		case lq == "critical":
			if m.Critical {
				return nil, bad("critical twice")
			}
			m.Critical = true
		case lq == "muted":
			if m.Muted {
				return nil, bad("muted twice")
			}
			m.Muted = true
		case strings.HasPrefix(lq, "allow="):
			if allow != "" {
				return nil, bad("allow twice")
			}
			allow = strings.TrimPrefix(lq, "allow=")
		default:
			return nil, bad(fmt.Sprintf("%q is neither a direction (increase: a rise fails; decrease: a fall fails; either), critical, muted, nor allow=RATIO", q))
		}
	}
	if allow == "" {
		return m, nil
	}
	r, err := strconv.ParseFloat(allow, 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
		return nil, bad(fmt.Sprintf("allow=%s is not a positive mean ratio (canary / baseline)", allow))
	}
	switch m.Direction {
	case "increase":
		if r < 1 {
			return nil, bad(fmt.Sprintf("allow=%s tolerates a rise, so it is a ratio of 1 or more (1.5: up to 50%% higher)", allow))
		}
		m.AllowedIncrease = r
	case "decrease":
		if r > 1 {
			return nil, bad(fmt.Sprintf("allow=%s tolerates a fall, so it is a ratio of at most 1 (0.8: down to 20%% lower)", allow))
		}
		m.AllowedDecrease = r
	default: // either way: the same factor up and down
		if r < 1 {
			r = 1 / r
		}
		m.AllowedIncrease, m.AllowedDecrease = r, 1/r
	}
	return m, nil
}

// parseSteps reads comma-separated traffic percentages: increasing, each
// from 1 to 50 (the baseline gets as much as the canary).
func parseSteps(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSuffix(strings.TrimSpace(f), "%")
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, usagef("--steps %q: %q is not a whole percentage; want increasing percentages, e.g. 10,25,50", s, f)
		}
		if n < 1 || n > 50 {
			return nil, usagef("--steps %q: %d%% is outside 1-50: the baseline gets as much traffic as the canary, so the canary gets at most half", s, n)
		}
		if len(out) > 0 && int32(n) <= out[len(out)-1] {
			return nil, usagef("--steps %q: the steps must increase, e.g. 10,25,50", s)
		}
		out = append(out, int32(n))
	}
	return out, nil
}

// parseGenome reads a genome: a YAML or JSON object of parameters, or the
// {"genome": {...}, "candidate": ..., "scores": {...}} that evolution best
// -o json prints.
func parseGenome(data []byte) (*structpb.Struct, error) {
	docs := splitDocuments(data)
	if len(docs) != 1 {
		return nil, fmt.Errorf("want one document, got %d", len(docs))
	}
	js, err := yaml.YAMLToJSON(docs[0])
	if err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object of parameters, e.g. {max_iterations: 200}, got %s", jsonKind(v))
	}
	if g, ok := m["genome"].(map[string]any); ok {
		wrapped := true
		for k := range m {
			if k != "genome" && k != "candidate" && k != "scores" {
				wrapped = false
			}
		}
		if wrapped {
			m = g
		}
	}
	if len(m) == 0 {
		return nil, errors.New("no parameters in it")
	}
	return structpb.NewStruct(m)
}

// readCanaries reads the Canary documents of FILE (or "-").
func (o *options) readCanaries(file string) ([]*v1.Canary, error) {
	data, err := o.readManifest(file)
	if err != nil {
		return nil, err
	}
	docs := splitDocuments(data)
	if len(docs) == 0 {
		return nil, usagef("%s: no canary in it", manifestName(file))
	}
	out := make([]*v1.Canary, 0, len(docs))
	for i, doc := range docs {
		where := manifestName(file)
		if len(docs) > 1 {
			where = fmt.Sprintf("%s: document %d", where, i+1)
		}
		cn := &v1.Canary{}
		if err := decodeStrict(doc, cn); err != nil {
			return nil, usagef("%s: %v", where, err)
		}
		if name := cn.GetMetadata().GetName(); name == "" {
			return nil, usagef("%s: metadata.name is required", where)
		} else if err := checkEvolutionName(name); err != nil {
			return nil, usagef("%s: metadata.name: %v", where, err)
		}
		cn.Status = nil // the server owns it
		out = append(out, cn)
	}
	return out, nil
}

// newCanaryCreateCmd is `swarmctl canary create`.
func newCanaryCreateCmd(o *options) *cobra.Command {
	var (
		f               canaryFlags
		file, requestID string
		follow          bool
		timeout         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create (NAME --agent AGENT (--genome-file FILE | --evolution EVO) --metric M... | NAME --plugin PLUGIN --version V | -f FILE)",
		Short: "Start a canary of a new agent or plugin version",
		Long: `Start a canary: a new version of an agent (or a plugin) runs beside a fresh
baseline of the live version on a share of live traffic, judged on metrics
every --interval, stepping its share through --steps.

An agent canary's new version is the agent's template with a new genome:
--genome-file (a parameter: value object, or what evolution best -o json
prints), or --evolution to take an evolution's candidate (its best unless
--candidate; the candidate must pass the trust gate). It is judged on the
--metric metrics the agent's replicas report, each
NAME[:increase|decrease|either][:critical][:allow=RATIO]: the direction is the
change that fails the metric (default either), a critical metric fails the
canary on its own, and allow tolerates a significant change up to that mean
ratio, canary / baseline (allow=3 on a latency lets it triple; with either,
allow=2 tolerates half to double). The agent must be Running; the new version
is named --canary-version, else the next one (v2 after v1).

A plugin canary runs the uploaded --version of --plugin beside its default
version; without --metric it is judged on the plugin metrics swarmd chooses.

Each analysis scores 0-100: at least --pass (75) passes, below --marginal (50)
fails and rolls the canary back, in between pauses it for a person (canary
resume, promote, rollback). Fewer than --min-samples values on a side of a
metric is no data, which pauses the canary after --max-no-data intervals in a
row. The personality of the agent sets how many passing analyses each step
needs (its canary pace).

Or give the whole Canary in FILE (YAML or JSON: metadata and spec, "-" for
standard input; unknown fields are errors that name them); several may be
separated by ---.

Create is idempotent: repeating it with the same --request-id returns the
canary it created ("unchanged"). Without --request-id a random one is made, so
that swarmctl's own retries after a lost connection are safe. With -w the
command then follows the canary like canary watch.`,
		Example: `  # A new genome of agent solver, judged on its latency, in three steps of a minute
  swarmctl canary create solver-v2 --agent solver --genome-file genome.yaml \
      --metric tspsolver_request_seconds_mean:increase:critical --steps 10,25,50 --interval 1m

  # The best candidate of an evolution, and follow it until it ends
  swarmctl canary create solver-evo --agent solver --evolution tsp \
      --metric tspsolver_gap_mean:increase:critical --metric tspsolver_request_seconds_mean:increase:allow=3 -w

  # A plugin version
  swarmctl canary create cmaes-next --plugin cmaes --version 1.0.1

  # From a file
  swarmctl canary create -f canary.yaml`,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			var cs []*v1.Canary
			if file != "" {
				if len(args) > 0 {
					return usagef("canary create takes -f FILE or NAME with flags, not both")
				}
				for _, name := range canarySpecFlagNames() {
					if cmd.Flags().Changed(name) {
						return usagef("--%s cannot be combined with -f: put it in the file", name)
					}
				}
				var err error
				if cs, err = o.readCanaries(file); err != nil {
					return err
				}
				if follow && len(cs) > 1 {
					return usagef("-w follows one canary; %s has %d: follow each with swarmctl canary watch NAME", manifestName(file), len(cs))
				}
			} else {
				if len(args) != 1 {
					return usagef("canary create needs NAME with --agent AGENT or --plugin PLUGIN, or -f FILE")
				}
				if err := checkEvolutionName(args[0]); err != nil {
					return usagef("NAME %v", err)
				}
				spec, err := f.spec(cmd.Flags(), o.readManifest)
				if err != nil {
					return err
				}
				cs = []*v1.Canary{{Metadata: &v1.ObjectMeta{Name: args[0]}, Spec: spec}}
			}
			if timeout < 0 {
				return usagef("--timeout must not be negative, got %s", timeout)
			}
			if requestID == "" {
				requestID = randomID()
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			var created []*v1.Canary
			for i, cn := range cs {
				id := requestID
				if len(cs) > 1 {
					id = fmt.Sprintf("%s-%d", requestID, i)
				}
				out, isNew, err := createCanary(ctx, c, cn, id)
				if err != nil {
					return fmt.Errorf("canary %q: %w", cn.GetMetadata().GetName(), err)
				}
				created = append(created, out)
				if o.output == outputTable {
					writeCreatedCanary(o.out, out, isNew)
				}
			}
			if follow {
				if o.output == outputTable {
					fmt.Fprintln(o.out)
				}
				return o.followCanary(ctx, c, created[0].GetMetadata().GetName(), timeout)
			}
			switch {
			case o.output == outputTable:
				if len(created) == 1 {
					fmt.Fprintf(o.out, "Follow it with: swarmctl canary watch %s\n", created[0].GetMetadata().GetName())
				}
				if c.target.local {
					fmt.Fprintln(o.errOut, "note: in local mode the canary runs inside swarmctl and is rolled back when it exits; follow it with -w")
				}
				return nil
			case len(created) == 1:
				return printMessage(o.out, o.output, created[0])
			default:
				return printList(o.out, o.output, created)
			}
		},
	}
	f.bind(o, cmd)
	cmd.Flags().StringVarP(&file, "filename", "f", "", `YAML or JSON file with the Canary, "-" for standard input`)
	cmd.Flags().StringVar(&requestID, "request-id", "", "idempotency key: a repeated create with it returns the first result (default: random)")
	cmd.Flags().BoolVarP(&follow, "watch", "w", false, "then follow the canary like canary watch until it ends")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with -w: give up following after this long, e.g. 10m (0: no limit)")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	_ = cmd.RegisterFlagCompletionFunc("request-id", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("timeout", cobra.NoFileCompletions)
	return cmd
}

// createCanary creates cn, retrying with the same request id when the call
// failed in transit. isNew is false when the canary was already there.
func createCanary(ctx context.Context, c *conn, cn *v1.Canary, requestID string) (out *v1.Canary, isNew bool, err error) {
	prior, err := c.canaries.GetCanary(ctx, &v1.GetCanaryRequest{Name: cn.GetMetadata().GetName()})
	if err != nil && !isCode(err, codes.NotFound) && !isCode(err, codes.InvalidArgument) {
		return nil, false, err
	}
	for attempt := 1; ; attempt++ {
		out, err = c.canaries.CreateCanary(ctx, &v1.CreateCanaryRequest{Canary: cn, RequestId: requestID})
		if (isCode(err, codes.Unavailable) || isCode(err, codes.DeadlineExceeded)) && attempt < createAttempts && ctx.Err() == nil {
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
			continue
		}
		if err != nil {
			return nil, false, err
		}
		isNew = prior == nil || prior.GetMetadata().GetUid() != out.GetMetadata().GetUid()
		return out, isNew, nil
	}
}

// writeCreatedCanary says what create started: the target, the versions
// and the schedule.
func writeCreatedCanary(w io.Writer, cn *v1.Canary, isNew bool) {
	verb := "created"
	if !isNew {
		verb = "unchanged"
	}
	s := cn.GetSpec()
	fmt.Fprintf(w, "canary/%s %s: %s %s → %s\n", cn.GetMetadata().GetName(), verb, canaryTarget(cn), orNone(s.GetBaselineVersion()), orNone(s.GetCanaryVersion()))
	fmt.Fprintf(w, "  schedule:  %s\n", scheduleString(cn))
	fmt.Fprintf(w, "  judged on: %s; pass %g, marginal %g\n", metricsString(s.GetMetrics()), s.GetPassThreshold(), s.GetMarginalThreshold())
}

// canaryTarget writes kind/name: agent/solver.
func canaryTarget(cn *v1.Canary) string {
	kind := cn.GetSpec().GetTargetKind()
	if kind == "" {
		kind = canaryTargetAgent
	}
	return strings.ToLower(kind) + "/" + cn.GetSpec().GetTarget()
}

// scheduleString writes the steps, their analyses, the interval and the
// pace: "10% → 25% → 50%, 1 passing analysis each, every 1m0s (pace 0.5)".
func scheduleString(cn *v1.Canary) string {
	stages := cn.GetStatus().GetSchedule()
	var parts []string
	same := true
	for _, sg := range stages {
		parts = append(parts, fmt.Sprintf("%d%%", sg.GetWeight()))
		same = same && sg.GetAnalyses() == stages[0].GetAnalyses()
	}
	if len(stages) == 0 {
		for _, w := range cn.GetSpec().GetStepWeights() {
			parts = append(parts, fmt.Sprintf("%d%%", w))
		}
	} else if !same {
		parts = parts[:0]
		for _, sg := range stages {
			parts = append(parts, fmt.Sprintf("%d%% (%s)", sg.GetWeight(), plural(int(sg.GetAnalyses()), "analysis", "analyses")))
		}
	}
	s := orNone(strings.Join(parts, " → "))
	if len(stages) > 0 && same {
		s += fmt.Sprintf(", %s each", plural(int(stages[0].GetAnalyses()), "passing analysis", "passing analyses"))
	}
	if d := cn.GetSpec().GetInterval(); d != nil {
		s += ", every " + d.AsDuration().String()
	}
	if p := cn.GetStatus().GetPace(); p > 0 {
		s += fmt.Sprintf(" (pace %g)", p)
	}
	return s
}

// plural writes "1 analysis", "2 analyses".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// metricsString writes the judged metrics: "latency (increase, critical)".
func metricsString(ms []*v1.CanaryMetric) string {
	var parts []string
	for _, m := range ms {
		q := []string{orNone(m.GetDirection())}
		if m.GetDirection() == "" {
			q[0] = "either"
		}
		if m.GetCritical() {
			q = append(q, "critical")
		}
		if m.GetMuted() {
			q = append(q, "muted")
		}
		if a := allowedString(m); a != "" {
			q = append(q, a)
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", m.GetName(), strings.Join(q, ", ")))
	}
	if len(parts) == 0 {
		return "<swarmd's plugin metrics>"
	}
	return strings.Join(parts, ", ")
}

// allowedString writes a metric's tolerated mean ratios: "allow ×3",
// "allow ×0.8", "allow ×0.5-×2"; empty without any.
func allowedString(m *v1.CanaryMetric) string {
	inc, dec := m.GetAllowedIncrease(), m.GetAllowedDecrease()
	ratio := func(v float64) string { return "×" + strconv.FormatFloat(v, 'g', 4, 64) }
	switch {
	case inc > 0 && dec > 0:
		return "allow " + ratio(dec) + "-" + ratio(inc)
	case inc > 0:
		return "allow " + ratio(inc)
	case dec > 0:
		return "allow " + ratio(dec)
	}
	return ""
}

// newCanaryLsCmd is `swarmctl canary ls`.
func newCanaryLsCmd(o *options) *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:     "ls [NAME...]",
		Aliases: []string{"get", "list"},
		Short:   "List canaries",
		Long: `List canaries: the target (kind/name), the versions (baseline→canary), the
phase, the step (1-based, of the schedule), the traffic split in percent
(live/baseline/canary), the score of the last judged analysis and the age.

With names, only those canaries are shown. -l filters by labels; -w keeps
running and prints a row, with the event that caused it, for every change.`,
		Example: `  swarmctl canary ls
  swarmctl canary ls solver-v2 -o yaml
  swarmctl canary ls -w`,
		ValidArgsFunction: o.completeCanaries(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), o, &lf, args, lsSpec[*v1.Canary]{
				singular: "canary", plural: "canaries", header: canaryColumns(), row: canaryRow, list: listCanaries, watch: watchCanaries,
				get: func(ctx context.Context, c *conn, name string) (*v1.Canary, error) {
					return c.canaries.GetCanary(ctx, &v1.GetCanaryRequest{Name: name})
				},
			})
		},
	}
	lf.bind(cmd)
	return cmd
}

// watchCanaries streams canary events.
func watchCanaries(ctx context.Context, o *options, c *conn, selector string) error {
	stream, err := c.canaries.WatchCanaries(ctx, &v1.WatchCanariesRequest{})
	if err != nil {
		return err
	}
	return runWatch(ctx, o.out, o.output, watchSpec[*v1.Canary]{
		header:   canaryColumns(),
		row:      canaryRow,
		labels:   func(cn *v1.Canary) map[string]string { return cn.GetMetadata().GetLabels() },
		selector: selector,
		recv: func() (v1.EventType, *v1.Canary, error) {
			ev, err := stream.Recv()
			return ev.GetType(), ev.GetCanary(), err
		},
	})
}

// canaryRow is one line of `canary ls`.
func canaryRow(cn *v1.Canary, now time.Time) []string {
	s, st := cn.GetSpec(), cn.GetStatus()
	score := "<none>"
	if d := lastJudged(st.GetDecisions()); d != nil {
		score = formatCanaryScore(d.GetScore())
	}
	return []string{
		cn.GetMetadata().GetName(),
		canaryTarget(cn),
		orNone(s.GetBaselineVersion()) + "→" + orNone(s.GetCanaryVersion()),
		orNone(st.GetPhase()),
		stepString(st.GetStep(), st.GetSchedule()),
		fmt.Sprintf("%d/%d/%d", st.GetLiveWeight(), st.GetBaselineWeight(), st.GetWeight()),
		score,
		age(cn.GetMetadata().GetCreateTime(), now),
	}
}

// stepString writes a 0-based step as "2/3".
func stepString(step int32, schedule []*v1.CanaryStage) string {
	if len(schedule) == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", step+1, len(schedule))
}

// lastJudged is the last decision with a judged metric table, or nil.
func lastJudged(ds []*v1.CanaryDecision) *v1.CanaryDecision {
	for i := len(ds) - 1; i >= 0; i-- {
		if judged(ds[i]) {
			return ds[i]
		}
	}
	return nil
}

// judged reports whether a decision carries a judge's score: a verdict
// from the judge, with its metric table.
func judged(d *v1.CanaryDecision) bool {
	switch d.GetVerdict() {
	case "Pass", "Marginal", "Fail":
		return len(d.GetMetrics()) > 0
	}
	return false
}

// formatCanaryScore writes a score out of 100: 100, 66.67.
func formatCanaryScore(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// newCanaryDescribeCmd is `swarmctl canary describe`.
func newCanaryDescribeCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a canary's spec, status, every decision and the last metric table",
		Long: `Show everything known about a canary: metadata, its spec (target, versions,
genome or evolution candidate, steps, interval, thresholds, metrics), its
status (phase, reason, step, traffic split, pace, schedule, trust, times),
every decision (time, step, verdict, score, action, who took it, the canary's
share after it, why) and the metric table of the last judged analysis:
each metric's classification, the baseline's and the canary's means (with
their sample counts), the effect size (canary mean / baseline mean) and why.`,
		Example: `  swarmctl canary describe solver-v2
  swarmctl canary describe solver-v2 -o yaml`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeCanaries(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			cn, err := c.canaries.GetCanary(cmd.Context(), &v1.GetCanaryRequest{Name: args[0]})
			if err != nil {
				return canaryError(args[0], err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, cn)
			}
			return describeCanary(o.out, cn, time.Now())
		},
	}
}

// describeCanary writes a canary kubectl-describe style.
func describeCanary(w io.Writer, cn *v1.Canary, now time.Time) error {
	d := newDescriber(w)
	describeMeta(d, cn.GetMetadata(), now)
	s := cn.GetSpec()
	d.section(0, "Spec")
	d.field(1, "Target", canaryTarget(cn))
	d.field(1, "Baseline version", orNone(s.GetBaselineVersion()))
	d.field(1, "Canary version", orNone(s.GetCanaryVersion()))
	if s.GetEvolution() != "" {
		d.field(1, "Evolution", fmt.Sprintf("%s, candidate %s", s.GetEvolution(), orNone(s.GetCandidate())))
	}
	if g := s.GetGenome(); g != nil {
		raw, err := messageJSON(g)
		if err != nil {
			return err
		}
		d.field(1, "Genome", string(raw))
	}
	var steps []string
	for _, sw := range s.GetStepWeights() {
		steps = append(steps, fmt.Sprintf("%d%%", sw))
	}
	d.field(1, "Steps", orNone(strings.Join(steps, ", ")))
	interval := "<none>"
	if iv := s.GetInterval(); iv != nil {
		interval = iv.AsDuration().String()
	}
	d.field(1, "Interval", interval)
	d.field(1, "Thresholds", fmt.Sprintf("pass %g, marginal %g", s.GetPassThreshold(), s.GetMarginalThreshold()))
	d.field(1, "Min samples", defaulted(s.GetMinSamples(), canary.DefaultMinSamples)+" per side and metric in an interval")
	d.field(1, "Max no data", defaulted(s.GetMaxNoData(), 1)+" interval(s) in a row, then pause")
	trust := fmt.Sprintf("%g", s.GetTrustThreshold())
	if s.GetTrustThreshold() == 0 {
		trust = "0 (no trust gate)"
	}
	d.field(1, "Trust threshold", trust)
	d.section(1, "Metrics")
	var rows [][]string
	for _, m := range s.GetMetrics() {
		weight := "-"
		if gw := m.GetGroupWeight(); gw > 0 {
			weight = strconv.FormatFloat(gw, 'g', -1, 64)
		}
		dir, nan := m.GetDirection(), m.GetNanStrategy()
		if dir == "" {
			dir = "either"
		}
		if nan == "" {
			nan = "remove"
		}
		allowed := strings.TrimPrefix(allowedString(m), "allow ")
		if allowed == "" {
			allowed = "-"
		}
		rows = append(rows, []string{m.GetName(), orNone(m.GetGroup()), dir, yesNo(m.GetCritical()), yesNo(m.GetMuted()), allowed,
			yesNo(m.GetMustHaveData()), nan, outliers(m.GetRemoveOutliers()), weight})
	}
	d.table(2, []string{"NAME", "GROUP", "DIRECTION", "CRITICAL", "MUTED", "ALLOWED", "MUST-HAVE-DATA", "NAN", "OUTLIERS", "GROUP-WEIGHT"}, rows)

	st := cn.GetStatus()
	d.section(0, "Status")
	d.field(1, "Phase", orNone(st.GetPhase()))
	if st.GetReason() != "" {
		d.field(1, "Reason", oneLine(st.GetReason()))
	}
	step := stepString(st.GetStep(), st.GetSchedule())
	if i := int(st.GetStep()); i < len(st.GetSchedule()) && !canary.Phase(st.GetPhase()).Finished() {
		sg := st.GetSchedule()[i]
		step += fmt.Sprintf(" (canary %d%%, %d of %s)", sg.GetWeight(), st.GetPasses(), plural(int(sg.GetAnalyses()), "passing analysis", "passing analyses"))
	}
	d.field(1, "Step", step)
	d.field(1, "Traffic", fmt.Sprintf("live %d%%, baseline %d%%, canary %d%%", st.GetLiveWeight(), st.GetBaselineWeight(), st.GetWeight()))
	d.field(1, "Schedule", scheduleString(cn))
	if t := st.GetTrust(); t != nil {
		d.field(1, "Trust", fmt.Sprintf("%.3f ± %.3f (lower bound %.3f, %d pieces of evidence)", t.GetScore(), t.GetUncertainty(), t.GetLowerBound(), t.GetEvidenceCount()))
	} else {
		d.field(1, "Trust", "<none>")
	}
	d.field(1, "Started", timeAndAge(st.GetStartTime(), now))
	d.field(1, "Ended", timeAndAge(st.GetEndTime(), now))

	d.section(0, "Decisions")
	rows = nil
	for _, dc := range st.GetDecisions() {
		verdict, score := orNone(dc.GetVerdict()), "-"
		if judged(dc) {
			score = formatCanaryScore(dc.GetScore())
		}
		rows = append(rows, []string{decisionTime(dc), stepString(dc.GetStep(), st.GetSchedule()), verdict, score,
			dc.GetAction(), orNone(dc.GetBy()), fmt.Sprintf("%d%%", dc.GetWeight()), oneLine(dc.GetReason())})
	}
	d.table(1, []string{"TIME", "STEP", "VERDICT", "SCORE", "ACTION", "BY", "CANARY AFTER", "REASON"}, rows)

	if last := lastJudged(st.GetDecisions()); last != nil {
		d.section(0, fmt.Sprintf("Last analysis (%s, step %s, %s %s)", decisionTime(last), stepString(last.GetStep(), st.GetSchedule()), last.GetVerdict(), formatCanaryScore(last.GetScore())))
		d.table(1, []string{"METRIC", "CLASSIFICATION", "BASELINE MEAN (N)", "CANARY MEAN (N)", "EFFECT", "REASON"}, metricRows(last.GetMetrics()))
	} else {
		d.field(0, "Last analysis", "<none yet>")
	}
	return d.flush()
}

// defaulted writes n, or the default it stands for when it is 0.
func defaulted(n int32, def int) string {
	if n == 0 {
		return fmt.Sprintf("%d (default)", def)
	}
	return strconv.Itoa(int(n))
}

// outliers writes a metric's outlier handling.
func outliers(remove bool) string {
	if remove {
		return "remove"
	}
	return "keep"
}

// decisionTime writes a decision's time of day, local.
func decisionTime(d *v1.CanaryDecision) string {
	if d.GetTime() == nil {
		return "--:--:--"
	}
	return d.GetTime().AsTime().Local().Format("15:04:05")
}

// metricRows lays a decision's metric table out as rows.
func metricRows(ms []*v1.MetricResult) [][]string {
	rows := make([][]string, 0, len(ms))
	for _, m := range ms {
		class := orNone(m.GetClassification())
		if m.GetCritical() {
			class += " (critical failure)"
		}
		rows = append(rows, []string{
			m.GetName(), class,
			fmt.Sprintf("%s (%d)", formatMetric(m.GetControlMean()), m.GetControlCount()),
			fmt.Sprintf("%s (%d)", formatMetric(m.GetExperimentMean()), m.GetExperimentCount()),
			formatMetric(m.GetEffect()),
			orNone(oneLine(m.GetReason())),
		})
	}
	return rows
}

// formatMetric writes a measured value with four significant digits, "-"
// when it was not computed (NaN).
func formatMetric(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// newCanaryWatchCmd is `swarmctl canary watch`.
func newCanaryWatchCmd(o *options) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "watch NAME",
		Short: "Follow a canary decision by decision until it ends",
		Long: `Follow a canary: first a line with its state, then one line per decision as
the canary takes it (those taken already come first), e.g.

  12:00:03 step 1/3 canary 10%  Pass 100  → step to 25%: analysis 1 of 1 at ...

until the canary ends, like kubectl rollout status: Promoted exits 0;
RolledBack or Failed exit 1 with the reason. A paused canary is waited for
(resume, promote or roll it back from another shell). --timeout gives up
after that long (exit 1); interrupting stops following, not the canary,
except in local mode, where the canary runs inside swarmctl.

With -o json or yaml nothing is printed while following, then the final
Canary.`,
		Example: `  swarmctl canary watch solver-v2

  # In a script: wait at most 30 minutes for the release
  swarmctl canary watch solver-v2 --timeout 30m && echo released`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeCanaries(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return usagef("--timeout must not be negative, got %s", timeout)
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			return o.followCanary(cmd.Context(), c, args[0], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long, e.g. 10m (0: no limit)")
	_ = cmd.RegisterFlagCompletionFunc("timeout", cobra.NoFileCompletions)
	return cmd
}

// followCanary prints a canary's decisions until it ends and returns an
// error unless it was promoted.
func (o *options) followCanary(ctx context.Context, c *conn, name string, timeout time.Duration) error {
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	view := &canaryView{w: o.out, quiet: o.output != outputTable, now: time.Now}
	cn, err := watchCanary(wctx, c.canaries, name, view.update)
	if err != nil {
		if wctx.Err() == nil {
			return err
		}
		where := orNone(cn.GetStatus().GetPhase())
		if sched := cn.GetStatus().GetSchedule(); len(sched) > 0 {
			where += fmt.Sprintf(" at step %s, canary %d%%", stepString(cn.GetStatus().GetStep(), sched), cn.GetStatus().GetWeight())
		}
		goesOn := "it goes on"
		if c.target.local {
			goesOn = "in local mode it runs inside swarmctl and is rolled back as it exits"
		}
		if ctx.Err() == nil {
			return fmt.Errorf("timed out after %s waiting for canary %s to end (%s); %s: follow it again with swarmctl canary watch %s", timeout, name, where, goesOn, name)
		}
		return fmt.Errorf("stopped following canary %s (%s); %s: swarmctl canary watch %s", name, where, goesOn, name)
	}
	if o.output != outputTable {
		if err := printMessage(o.out, o.output, cn); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(o.out, canarySummary(cn))
	}
	return canaryOutcome(cn)
}

// watchCanary calls seen with the canary's state, first as it is and then
// at every change, until it has ended, and returns that state (followOne
// over WatchCanaries, polling GetCanary against a server without it). On
// error it returns the last state seen.
func watchCanary(ctx context.Context, client v1.CanaryServiceClient, name string, seen func(*v1.Canary)) (*v1.Canary, error) {
	return followOne(ctx, follower[*v1.Canary]{
		kind: "canary",
		get: func(ctx context.Context) (*v1.Canary, error) {
			cn, err := client.GetCanary(ctx, &v1.GetCanaryRequest{Name: name})
			if err != nil {
				return nil, canaryError(name, err)
			}
			return cn, nil
		},
		watch: func(ctx context.Context) (func() (v1.EventType, *v1.Canary, error), error) {
			stream, err := client.WatchCanaries(ctx, &v1.WatchCanariesRequest{})
			if err != nil {
				return nil, err
			}
			return func() (v1.EventType, *v1.Canary, error) {
				resp, err := stream.Recv()
				return resp.GetType(), resp.GetCanary(), err
			}, nil
		},
		name:  func(cn *v1.Canary) string { return cn.GetMetadata().GetName() },
		ended: func(cn *v1.Canary) bool { return canary.Phase(cn.GetStatus().GetPhase()).Finished() },
		poll:  canaryPollInterval,
	}, name, seen)
}

// canaryView prints a canary's state once and then each decision once, as
// one line; nothing when quiet.
type canaryView struct {
	w       io.Writer
	quiet   bool
	now     func() time.Time
	started bool
	printed int // decisions printed
}

// update prints what is new in cn.
func (v *canaryView) update(cn *v1.Canary) {
	if v.quiet {
		return
	}
	st := cn.GetStatus()
	if !v.started {
		v.started = true
		fmt.Fprintln(v.w, canaryStateLine(cn, v.now()))
	}
	ds := st.GetDecisions()
	if len(ds) < v.printed {
		v.printed = len(ds) // not expected: decisions are never trimmed
	}
	for i := v.printed; i < len(ds); i++ {
		fmt.Fprintln(v.w, decisionLine(ds[i], st.GetSchedule()))
		if i == len(ds)-1 && ds[i].GetAction() == string(canary.ActionPause) && st.GetPhase() == string(canary.PhasePaused) {
			name := cn.GetMetadata().GetName()
			fmt.Fprintf(v.w, "         paused: waiting for swarmctl canary resume|promote|rollback %s\n", name)
		}
	}
	v.printed = len(ds)
}

// canaryStateLine is the first line of a watch: what is canaried, where it
// stands and its schedule.
func canaryStateLine(cn *v1.Canary, now time.Time) string {
	st := cn.GetStatus()
	s := fmt.Sprintf("%s canary/%s: %s %s → %s, %s", now.Local().Format("15:04:05"), cn.GetMetadata().GetName(), canaryTarget(cn),
		orNone(cn.GetSpec().GetBaselineVersion()), orNone(cn.GetSpec().GetCanaryVersion()), orNone(st.GetPhase()))
	if !canary.Phase(st.GetPhase()).Finished() && len(st.GetSchedule()) > 0 {
		s += fmt.Sprintf(" at step %s, canary %d%% (live %d%%, baseline %d%%)", stepString(st.GetStep(), st.GetSchedule()),
			st.GetWeight(), st.GetLiveWeight(), st.GetBaselineWeight())
	}
	return s + "; schedule " + scheduleString(cn)
}

// decisionLine is one decision as a line of canary watch:
// "12:00:03 step 1/3 canary 10%  Pass 100  → step to 25%: <reason>".
func decisionLine(d *v1.CanaryDecision, schedule []*v1.CanaryStage) string {
	var b strings.Builder
	b.WriteString(decisionTime(d))
	if len(schedule) > 0 {
		b.WriteString(" step " + stepString(d.GetStep(), schedule))
	}
	if i := int(d.GetStep()); i >= 0 && i < len(schedule) {
		fmt.Fprintf(&b, " canary %d%%", schedule[i].GetWeight())
	}
	b.WriteString("  ")
	switch {
	case judged(d):
		b.WriteString(d.GetVerdict() + " " + formatCanaryScore(d.GetScore()))
	case d.GetVerdict() != "":
		b.WriteString(d.GetVerdict())
	default:
		b.WriteString("by " + orNone(d.GetBy()))
	}
	b.WriteString("  → " + actionText(d))
	if r := oneLine(d.GetReason()); r != "" {
		b.WriteString(": " + r)
	}
	return b.String()
}

// actionText says what a decision did, in words.
func actionText(d *v1.CanaryDecision) string {
	switch canary.Action(d.GetAction()) {
	case canary.ActionStep:
		return fmt.Sprintf("step to %d%%", d.GetWeight())
	case canary.ActionHold:
		return "hold"
	case canary.ActionPause:
		return "pause"
	case canary.ActionResume:
		return "resume"
	case canary.ActionPromote:
		return "promote"
	case canary.ActionRollback:
		return "roll back"
	}
	return orNone(d.GetAction())
}

// canarySummary is the line printed when a watch ends.
func canarySummary(cn *v1.Canary) string {
	st, s := cn.GetStatus(), cn.GetSpec()
	line := fmt.Sprintf("canary/%s %s", cn.GetMetadata().GetName(), orNone(st.GetPhase()))
	switch canary.Phase(st.GetPhase()) {
	case canary.PhasePromoted:
		line += fmt.Sprintf(": %s runs %s", canaryTarget(cn), orNone(s.GetCanaryVersion()))
	case canary.PhaseRolledBack, canary.PhaseFailed:
		line += fmt.Sprintf(": %s stays on %s", canaryTarget(cn), orNone(s.GetBaselineVersion()))
	}
	line += " after " + plural(len(st.GetDecisions()), "decision", "decisions")
	if start, end := st.GetStartTime(), st.GetEndTime(); start != nil && end != nil && end.AsTime().After(start.AsTime()) {
		line += " in " + roundDuration(end.AsTime().Sub(start.AsTime())).String()
	}
	return line
}

// canaryOutcome is nil for a promoted canary and an error that says why
// for any other.
func canaryOutcome(cn *v1.Canary) error {
	name, st := cn.GetMetadata().GetName(), cn.GetStatus()
	reason := orNone(oneLine(st.GetReason()))
	switch canary.Phase(st.GetPhase()) {
	case canary.PhasePromoted:
		return nil
	case canary.PhaseRolledBack:
		return fmt.Errorf("canary %s was rolled back: %s", name, reason)
	case canary.PhaseFailed:
		return fmt.Errorf("canary %s failed: %s", name, reason)
	}
	return fmt.Errorf("canary %s is %s: %s", name, orNone(st.GetPhase()), reason)
}

// newCanaryPromoteCmd is `swarmctl canary promote`.
func newCanaryPromoteCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "promote NAME",
		Short: "Promote a canary now: its version takes all the traffic",
		Long: `Promote a running or paused canary now, without waiting for its remaining
analyses: the canary's version becomes the live one (for an agent, its
version and genome, with its lineage) and the baseline and the old version are
removed. The canary version must still pass the trust gate. A canary that has
ended cannot be promoted; the error says how it ended.`,
		Example:           `  swarmctl canary promote solver-v2`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeCanaries(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.canaryControl(cmd.Context(), args[0], func(ctx context.Context, client v1.CanaryServiceClient) (*v1.Canary, error) {
				return client.PromoteCanary(ctx, &v1.PromoteCanaryRequest{Name: args[0]})
			})
		},
	}
}

// newCanaryRollbackCmd is `swarmctl canary rollback`.
func newCanaryRollbackCmd(o *options) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Roll a canary back now: the live version takes all the traffic back",
		Long: `Roll a running or paused canary back now: the live version takes all the
traffic back and the canary and the baseline are removed. --reason is
recorded with the decision. A canary that has ended cannot be rolled back;
the error says how it ended.`,
		Example: `  swarmctl canary rollback solver-v2
  swarmctl canary rollback solver-v2 --reason "p99 latency alert"`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeCanaries(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.canaryControl(cmd.Context(), args[0], func(ctx context.Context, client v1.CanaryServiceClient) (*v1.Canary, error) {
				return client.RollbackCanary(ctx, &v1.RollbackCanaryRequest{Name: args[0], Reason: reason})
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the decision")
	_ = cmd.RegisterFlagCompletionFunc("reason", cobra.NoFileCompletions)
	return cmd
}

// newCanaryResumeCmd is `swarmctl canary resume`.
func newCanaryResumeCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "resume NAME",
		Short: "Resume a paused canary",
		Long: `Resume a canary paused on a marginal score or on intervals without data: it
goes on analysing at the step it paused at, whose passing analyses start over.`,
		Example:           `  swarmctl canary resume solver-v2`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeCanaries(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.canaryControl(cmd.Context(), args[0], func(ctx context.Context, client v1.CanaryServiceClient) (*v1.Canary, error) {
				return client.ResumeCanary(ctx, &v1.ResumeCanaryRequest{Name: args[0]})
			})
		},
	}
}

// canaryControl runs promote, rollback or resume and prints the phase the
// canary is in afterwards, with the reason.
func (o *options) canaryControl(ctx context.Context, name string, call func(context.Context, v1.CanaryServiceClient) (*v1.Canary, error)) error {
	c, err := o.connect(false)
	if err != nil {
		return err
	}
	defer c.Close()
	cn, err := call(ctx, c.canaries)
	if err != nil {
		return canaryError(name, err)
	}
	if o.output != outputTable {
		return printMessage(o.out, o.output, cn)
	}
	line := fmt.Sprintf("canary/%s %s", name, orNone(cn.GetStatus().GetPhase()))
	if r := oneLine(cn.GetStatus().GetReason()); r != "" {
		line += ": " + r
	}
	fmt.Fprintln(o.out, line)
	return nil
}

// canaryError explains a server error about canary name: the server's own
// message for a refusal (it says how the canary ended, or why the trust
// gate refused), with a hint for a canary that does not exist.
func canaryError(name string, err error) error {
	switch {
	case isCode(err, codes.NotFound):
		return withHint(err, "list the canaries with swarmctl canary ls")
	case isCode(err, codes.FailedPrecondition):
		return err
	}
	return fmt.Errorf("canary %q: %w", name, err)
}
