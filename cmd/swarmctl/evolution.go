package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/evolve"
	"github.com/stratoswarm/stratoswarm/host/quantity"
	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// evolutionPollInterval is how often watch polls GetEvolution against a
// server without WatchEvolutions.
var evolutionPollInterval = time.Second

// watchReconnects bounds how often a watch reconnects after the stream
// broke without an event in between.
const watchReconnects = 5

// evolutionName is the form of an evolution's name: a DNS label.
var evolutionName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// evolutions is the EvolutionService client of c.
func (c *conn) evolutions() v1.EvolutionServiceClient { return v1.NewEvolutionServiceClient(c.cc) }

// evolutionColumns are the columns of `evolution ls`.
func evolutionColumns() []string {
	return []string{"NAME", "PHASE", "STRATEGY", "SUITE", "GEN", "EVALS", "BEST", "AGE"}
}

// newEvolutionCmd is `swarmctl evolution`.
func newEvolutionCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "evolution",
		Aliases: []string{"evolutions", "evo"},
		Short:   "Start, follow, inspect and plot evolutions",
		Long: `An evolution is one run of a strategy plugin over a search space against a
benchmark suite, with objectives, a budget, a seed and optional stages. Each
genome the strategy proposes is a candidate; the candidates form the archive,
whose best one the evolution reports.

  evolution start, agent evolve          start one (agent evolve takes the search
                                         space from an agent template)
  evolution ls|describe|watch            follow them
  evolution archive|lineage|best|plot    look at the candidates
  evolution pause|resume|cancel          control a running one`,
		Example: `  swarmctl evolution start demo --suite bbob-f8-d10 --strategy cmaes --max-evaluations 2000
  swarmctl agent evolve solver --suite tsplib --strategy random --objective gap:min --max-evaluations 200 --detach
  swarmctl evolution watch demo
  swarmctl evolution archive demo --sort score
  swarmctl evolution best demo -o json > best.json
  swarmctl evolution plot demo --out demo.svg`,
		Args: cobra.NoArgs,
		RunE: showHelp,
	}
	cmd.AddCommand(
		newEvolutionStartCmd(o), newEvolutionLsCmd(o), newEvolutionDescribeCmd(o), newEvolutionWatchCmd(o),
		newEvolutionArchiveCmd(o), newEvolutionLineageCmd(o), newEvolutionBestCmd(o), newEvolutionLeaderboardCmd(o), newEvolutionPlotCmd(o),
		newEvolutionPauseCmd(o), newEvolutionResumeCmd(o), newEvolutionCancelCmd(o),
	)
	return cmd
}

// completeEvolutions offers evolution names from the server.
func (o *options) completeEvolutions(maxArgs int) cobra.CompletionFunc {
	return o.completeNames(maxArgs, func(ctx context.Context, c *conn) ([]string, error) {
		evs, err := listEvolutions(ctx, c, "", 0)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(evs))
		for _, ev := range evs {
			names = append(names, ev.GetMetadata().GetName())
		}
		return names, nil
	})
}

// completeStrategies offers the names of strategy plugins.
func (o *options) completeStrategies() cobra.CompletionFunc {
	return o.completeNames(0, func(ctx context.Context, c *conn) ([]string, error) {
		plugins, err := listPlugins(ctx, c, "", 0)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, p := range plugins {
			if p.GetSpec().GetKind() == v1.PluginKind_STRATEGY {
				names = append(names, p.GetMetadata().GetName())
			}
		}
		return names, nil
	})
}

// completeSuites offers the suites the server lists.
func (o *options) completeSuites() cobra.CompletionFunc {
	return o.completeNames(0, func(ctx context.Context, c *conn) ([]string, error) {
		resp, err := v1.NewSuiteServiceClient(c.cc).ListSuites(ctx, &v1.ListSuitesRequest{})
		var names []string
		for _, st := range resp.GetSuites() {
			names = append(names, st.GetMetadata().GetName())
		}
		return names, err
	})
}

// listEvolutions reads every page of evolutions (or limit of them).
func listEvolutions(ctx context.Context, c *conn, selector string, limit int) ([]*v1.Evolution, error) {
	return collectPages(limit, func(size int32, token string) ([]*v1.Evolution, string, error) {
		resp, err := c.evolutions().ListEvolutions(ctx, &v1.ListEvolutionsRequest{PageSize: size, PageToken: token, LabelSelector: selector})
		return resp.GetEvolutions(), resp.GetNextPageToken(), err
	})
}

// listCandidates reads every candidate of an evolution.
func listCandidates(ctx context.Context, client v1.EvolutionServiceClient, evolution string) ([]*v1.Candidate, error) {
	return collectPages(0, func(size int32, token string) ([]*v1.Candidate, string, error) {
		resp, err := client.ListCandidates(ctx, &v1.ListCandidatesRequest{Evolution: evolution, PageSize: size, PageToken: token})
		return resp.GetCandidates(), resp.GetNextPageToken(), err
	})
}

// evolutionFlags are the flags that make an EvolutionSpec, shared by
// `evolution start` and `agent evolve`.
type evolutionFlags struct {
	suite, strategy, strategyConfig, space string
	objectives, stages                     []string
	maxEvaluations                         int64
	maxGenerations, parallelism, batchSize int32
	wallTime                               time.Duration
	seed                                   uint64
	// the candidates' limits (spec.candidate_resources)
	candidateMemory, candidateCPUs string
	candidatePids                  int64
	candidateTiers                 []string
	// the trust gate and the personality
	personality, trustScorer string
	trustThreshold           float64

	requestID string
	detach    bool
}

// specFlagNames are the flags that set the spec (and so exclude -f).
func specFlagNames() []string {
	return []string{"suite", "strategy", "strategy-config", "space", "objective", "max-evaluations",
		"max-generations", "parallelism", "batch-size", "wall-time", "seed", "stage",
		"candidate-memory", "candidate-cpus", "candidate-pids", "candidate-tier",
		"personality", "trust-scorer", "trust-threshold"}
}

// bind declares the flags on cmd.
func (f *evolutionFlags) bind(o *options, cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.suite, "suite", "", "benchmark suite that scores the candidates: tsplib, tsplib-small, bbob-f<F>-d<D>[-i<I>]")
	fl.StringVar(&f.strategy, "strategy", "", "strategy plugin, NAME or NAME@VERSION (its default version without @)")
	fl.StringVar(&f.strategyConfig, "strategy-config", "", "configuration of the strategy, a JSON object")
	fl.StringVar(&f.space, "space", "", `YAML or JSON file with the search space ({parameters: [...]}), "-" for standard input`)
	fl.StringArrayVar(&f.objectives, "objective", nil, "score to optimise, NAME:min or NAME:max; repeat for several, the first is the primary one (default: the suite's)")
	fl.Int64Var(&f.maxEvaluations, "max-evaluations", 0, "stop after N evaluations (0: no limit)")
	fl.Int32Var(&f.maxGenerations, "max-generations", 0, "stop after N generations (0: no limit)")
	fl.Int32Var(&f.parallelism, "parallelism", 0, "evaluate up to N candidates at once (0: the server's default)")
	fl.Int32Var(&f.batchSize, "batch-size", 0, "candidates the strategy proposes at once (0: the server's default)")
	fl.DurationVar(&f.wallTime, "wall-time", 0, "stop after this long, e.g. 10m (0: no limit)")
	fl.Uint64Var(&f.seed, "seed", 0, "random seed: the same seed, strategy and suite give the same archive")
	fl.StringArrayVar(&f.stages, "stage", nil, "staged evaluation step NAME:SUBSET:THRESHOLD (a task subset of the suite, or full; the primary score needed to go on); repeat in order")
	fl.StringVar(&f.candidateMemory, "candidate-memory", "", "memory limit of each candidate evaluation, 256Mi, 1Gi (default: swarmd's eval-memory)")
	fl.StringVar(&f.candidateCPUs, "candidate-cpus", "", "CPU quota in cores of each candidate evaluation, 0.5 for half a core (default: swarmd's eval-cpus)")
	fl.Int64Var(&f.candidatePids, "candidate-pids", 0, "most processes of each candidate evaluation (0: swarmd's eval-pids)")
	fl.StringArrayVar(&f.candidateTiers, "candidate-tier", nil, "memory tier quota of each candidate evaluation TIER=QUANTITY, e.g. nvme=10Gi (repeatable; tiers "+tierList()+"; cpu is the memory limit)")
	fl.StringVar(&f.personality, "personality", "", "personality plugin, NAME or NAME@VERSION (explorer, balanced, conservative): its mutation bias reaches the strategy, its resource headroom the candidates' memory (default: none)")
	fl.StringVar(&f.trustScorer, "trust-scorer", "", "trust plugin that scores the candidates, NAME or NAME@VERSION (default: beta)")
	fl.Float64Var(&f.trustThreshold, "trust-threshold", 0, "trust lower bound a candidate needs to be a parent or the best, in [0, 1] (0: swarmd's trust-threshold; negative: no gate)")
	fl.StringVar(&f.requestID, "request-id", "", "idempotency key: a repeated start with it returns the first result (default: random)")
	fl.BoolVarP(&f.detach, "detach", "d", false, "return once the evolution is started instead of following it")
	_ = cmd.RegisterFlagCompletionFunc("suite", o.completeSuites())
	_ = cmd.RegisterFlagCompletionFunc("strategy", o.completeStrategies())
	_ = cmd.RegisterFlagCompletionFunc("candidate-tier", completeTiers)
	_ = cmd.RegisterFlagCompletionFunc("personality", cobra.FixedCompletions([]string{"explorer", "balanced", "conservative"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("trust-scorer", cobra.FixedCompletions([]string{"beta", "eigentrust"}, cobra.ShellCompDirectiveNoFileComp))
	for _, n := range []string{"candidate-memory", "candidate-cpus", "candidate-pids", "trust-threshold"} {
		_ = cmd.RegisterFlagCompletionFunc(n, cobra.NoFileCompletions)
	}
	_ = cmd.MarkFlagFilename("space", "yaml", "yml", "json")
}

// spec builds the EvolutionSpec the flags describe; read reads --space.
func (f *evolutionFlags) spec(fs *pflag.FlagSet, read func(string) ([]byte, error)) (*v1.EvolutionSpec, error) {
	if f.suite == "" {
		return nil, usagef("--suite is required: the benchmark suite that scores the candidates (tsplib, bbob-f8-d10, ...)")
	}
	if f.strategy == "" {
		return nil, usagef("--strategy is required: a strategy plugin (swarmctl plugin ls), e.g. random")
	}
	s := &v1.EvolutionSpec{Suite: f.suite, Seed: f.seed}
	ref, err := parsePluginRef("--strategy", f.strategy)
	if err != nil {
		return nil, err
	}
	s.Strategy = ref
	if f.strategyConfig != "" {
		cfg, err := parseJSONObject("--strategy-config", f.strategyConfig)
		if err != nil {
			return nil, err
		}
		s.Strategy.Config = cfg
	}
	if f.space != "" {
		data, err := read(f.space)
		if err != nil {
			return nil, fmt.Errorf("--space: %w", err)
		}
		if s.SearchSpace, err = parseSearchSpace(data); err != nil {
			return nil, usagef("--space %s: %v", manifestName(f.space), err)
		}
	}
	seen := map[string]bool{}
	for _, arg := range f.objectives {
		obj, explicit, err := parseObjective(arg)
		if err != nil {
			return nil, err
		}
		if !explicit {
			return nil, usagef("--objective %q: say which way is better, %s:min or %s:max", arg, obj.Name, obj.Name)
		}
		if seen[obj.Name] {
			return nil, usagef("--objective %q: %s is given twice", arg, obj.Name)
		}
		seen[obj.Name] = true
		s.Objectives = append(s.Objectives, obj)
	}
	budget, err := f.budget(fs)
	if err != nil {
		return nil, err
	}
	s.Budget = budget
	if s.CandidateResources, err = f.candidateResources(); err != nil {
		return nil, err
	}
	if f.personality != "" {
		if s.Personality, err = parsePluginRef("--personality", f.personality); err != nil {
			return nil, err
		}
	}
	if f.trustScorer != "" {
		if s.TrustScorer, err = parsePluginRef("--trust-scorer", f.trustScorer); err != nil {
			return nil, err
		}
	}
	if t := f.trustThreshold; math.IsNaN(t) || t > 1 {
		return nil, usagef("--trust-threshold %v: give a trust lower bound in [0, 1] (0: swarmd's trust-threshold; negative: no gate)", t)
	}
	s.TrustThreshold = f.trustThreshold
	stageNames := map[string]bool{}
	for _, arg := range f.stages {
		st, err := parseStage(arg)
		if err != nil {
			return nil, err
		}
		if stageNames[st.Name] {
			return nil, usagef("--stage %q: stage %s is given twice", arg, st.Name)
		}
		stageNames[st.Name] = true
		s.Stages = append(s.Stages, st)
	}
	return s, nil
}

// budget builds the Budget from the flags, nil when none was given.
func (f *evolutionFlags) budget(fs *pflag.FlagSet) (*v1.Budget, error) {
	names := []string{"max-evaluations", "max-generations", "parallelism", "batch-size", "wall-time"}
	values := []int64{f.maxEvaluations, int64(f.maxGenerations), int64(f.parallelism), int64(f.batchSize), int64(f.wallTime)}
	set := false
	for i, name := range names {
		if values[i] < 0 {
			return nil, usagef("--%s must not be negative, got %s", name, fs.Lookup(name).Value.String())
		}
		set = set || fs.Changed(name)
	}
	if !set {
		return nil, nil
	}
	b := &v1.Budget{MaxEvaluations: f.maxEvaluations, MaxGenerations: f.maxGenerations, Parallelism: f.parallelism, BatchSize: f.batchSize}
	if f.wallTime > 0 {
		b.WallTime = durationpb.New(f.wallTime)
	}
	return b, nil
}

// candidateResources builds spec.candidate_resources from the
// --candidate-* flags, nil when none was given (swarmd's defaults).
func (f *evolutionFlags) candidateResources() (*v1.ResourceList, error) {
	r := &v1.ResourceList{Pids: f.candidatePids}
	if f.candidateMemory != "" {
		n, err := quantity.ParseBytes(f.candidateMemory)
		if err != nil {
			return nil, usagef("--candidate-memory %q: %v", f.candidateMemory, err)
		}
		r.MemoryBytes = n
	}
	if f.candidateCPUs != "" {
		m, err := parseCPUs(f.candidateCPUs)
		if err != nil {
			return nil, usagef("--candidate-cpus %q: %v", f.candidateCPUs, err)
		}
		r.CpuMillis = m
	}
	if f.candidatePids < 0 {
		return nil, usagef("--candidate-pids must not be negative, got %d", f.candidatePids)
	}
	tiers, err := parseTiers("--candidate-tier", f.candidateTiers)
	if err != nil {
		return nil, err
	}
	if q, ok := tiers[string(container.TierCPU)]; ok && r.MemoryBytes != 0 && q != r.MemoryBytes {
		return nil, usagef("--candidate-memory %s and --candidate-tier cpu=%s conflict: both set the memory limit; give one of them", f.candidateMemory, humanBytes(q))
	}
	r.TierBytes = tiers
	if r.MemoryBytes == 0 && r.CpuMillis == 0 && r.Pids == 0 && len(r.TierBytes) == 0 {
		return nil, nil
	}
	return r, nil
}

// parsePluginRef reads NAME or NAME@VERSION.
func parsePluginRef(flag, s string) (*v1.PluginRef, error) {
	name, version, hasVersion := strings.Cut(s, "@")
	if name == "" || strings.ContainsAny(s, " \t/") || (hasVersion && (version == "" || strings.Contains(version, "@"))) {
		return nil, usagef("%s %q: want NAME or NAME@VERSION, e.g. random or random@1.2.0", flag, s)
	}
	return &v1.PluginRef{Name: name, Version: version}, nil
}

// parseJSONObject reads a JSON object into a Struct.
func parseJSONObject(flag, s string) (*structpb.Struct, error) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, usagef(`%s %q: want a JSON object, e.g. '{"sigma": 0.3}'`, flag, s)
	}
	st, err := structpb.NewStruct(m)
	if err != nil {
		return nil, usagef("%s: %v", flag, err)
	}
	return st, nil
}

// parseObjective reads NAME[:min|max] (also minimize, maximize); explicit
// says whether a direction was given, else it is MINIMIZE.
func parseObjective(s string) (obj *v1.Objective, explicit bool, err error) {
	name, dir, hasDir := strings.Cut(s, ":")
	obj = &v1.Objective{Name: name, Direction: v1.Objective_MINIMIZE}
	if name == "" || strings.ContainsAny(name, " \t") {
		return nil, false, usagef("--objective %q: want NAME:min or NAME:max, e.g. gap:min", s)
	}
	if !hasDir {
		return obj, false, nil
	}
	switch strings.ToLower(dir) {
	case "min", "minimize":
	case "max", "maximize":
		obj.Direction = v1.Objective_MAXIMIZE
	default:
		return nil, false, usagef("--objective %q: direction %q is neither min nor max", s, dir)
	}
	return obj, true, nil
}

// parseStage reads NAME:SUBSET:THRESHOLD.
func parseStage(s string) (*v1.Stage, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return nil, usagef("--stage %q: want NAME:SUBSET:THRESHOLD, e.g. smoke:small:0.2", s)
	}
	t, err := strconv.ParseFloat(parts[2], 64)
	if err != nil || math.IsNaN(t) || math.IsInf(t, 0) {
		return nil, usagef("--stage %q: threshold %q is not a finite number", s, parts[2])
	}
	return &v1.Stage{Name: parts[0], Subset: parts[1], Threshold: t}, nil
}

// parseSearchSpace reads a SearchSpace document, or a bare list of
// parameters, rejecting unknown fields.
func parseSearchSpace(data []byte) (*v1.SearchSpace, error) {
	docs := splitDocuments(data)
	if len(docs) != 1 {
		return nil, fmt.Errorf("want one document, got %d", len(docs))
	}
	js, err := yaml.YAMLToJSON(docs[0])
	if err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	if t := bytes.TrimSpace(js); len(t) > 0 && t[0] == '[' {
		js = append(append([]byte(`{"parameters":`), t...), '}')
	}
	space := &v1.SearchSpace{}
	if err := decodeStrict(js, space); err != nil {
		return nil, err
	}
	if len(space.GetParameters()) == 0 {
		return nil, errors.New("no parameters in it")
	}
	return space, nil
}

// readEvolution reads one Evolution document from FILE (or "-").
func (o *options) readEvolution(file string) (*v1.Evolution, error) {
	data, err := o.readManifest(file)
	if err != nil {
		return nil, err
	}
	docs := splitDocuments(data)
	if len(docs) != 1 {
		return nil, usagef("%s: want one evolution, got %d documents", manifestName(file), len(docs))
	}
	ev := &v1.Evolution{}
	if err := decodeStrict(docs[0], ev); err != nil {
		return nil, usagef("%s: %v", manifestName(file), err)
	}
	if name := ev.GetMetadata().GetName(); name == "" {
		return nil, usagef("%s: metadata.name is required", manifestName(file))
	} else if err := checkEvolutionName(name); err != nil {
		return nil, usagef("%s: metadata.name: %v", manifestName(file), err)
	}
	ev.Status = nil // the server owns it
	return ev, nil
}

// checkEvolutionName validates a name as the server does.
func checkEvolutionName(name string) error {
	if !evolutionName.MatchString(name) {
		return fmt.Errorf("%q must be 1-63 lowercase letters, digits or '-', start with a letter and end with a letter or digit", name)
	}
	return nil
}

// newEvolutionStartCmd is `swarmctl evolution start`.
func newEvolutionStartCmd(o *options) *cobra.Command {
	var f evolutionFlags
	var file string
	cmd := &cobra.Command{
		Use:   "start (-f FILE | NAME --suite SUITE [flags])",
		Short: "Start an evolution from a file or from flags, and follow it",
		Long: `Start an evolution, described either by FILE (YAML or JSON of an Evolution:
metadata and spec, "-" for standard input; unknown fields are errors that name
them) or by NAME and flags.

After starting, the command follows the evolution like evolution watch: a
live progress line on a terminal, one line per change otherwise, until the
evolution succeeds (exit code 0), fails, is cancelled or pauses (exit code 1,
with the reason). --detach returns at once. Interrupting the command stops
following, not the evolution, except in local mode, where the evolution runs
inside swarmctl: it stops with it and resumes the next time swarmctl runs on
the same data directory.

Each candidate evaluation of a process-based suite (tsplib) runs in a
container: --candidate-memory, --candidate-cpus, --candidate-pids and
--candidate-tier (quantities as for container run) bound it, and what they
leave unset takes swarmd's eval-memory, eval-cpus and eval-pids.

Start is idempotent: repeating it with the same --request-id returns the
first result.`,
		Example: `  # BBOB f8 in 10 dimensions with CMA-ES, 2000 evaluations (objective: the suite's, delta_f)
  swarmctl evolution start demo --suite bbob-f8-d10 --strategy cmaes --max-evaluations 2000

  # TSPLIB, staged: the small instances first, the rest only at a gap of 0.05 or less
  swarmctl evolution start tsp --suite tsplib --strategy random@1.0.0 --space space.yaml \
      --objective gap:min --stage small:small:0.05 --stage full:full:0 --parallelism 4 --wall-time 30m --seed 7

  # Each candidate in 256 MiB, half a core and 64 processes
  swarmctl evolution start tsp-small --suite tsplib-small --strategy random --max-evaluations 50 \
      --candidate-memory 256Mi --candidate-cpus 0.5 --candidate-pids 64

  # From a file, without following
  swarmctl evolution start -f evolution.yaml --detach`,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ev *v1.Evolution
			if file != "" {
				if len(args) > 0 {
					return usagef("evolution start takes -f FILE or NAME with flags, not both")
				}
				for _, name := range specFlagNames() {
					if cmd.Flags().Changed(name) {
						return usagef("--%s cannot be combined with -f: put it in the file", name)
					}
				}
				var err error
				if ev, err = o.readEvolution(file); err != nil {
					return err
				}
			} else {
				if len(args) != 1 {
					return usagef("evolution start needs NAME and --suite, or -f FILE")
				}
				if err := checkEvolutionName(args[0]); err != nil {
					return usagef("NAME %v", err)
				}
				spec, err := f.spec(cmd.Flags(), o.readManifest)
				if err != nil {
					return err
				}
				ev = &v1.Evolution{Metadata: &v1.ObjectMeta{Name: args[0]}, Spec: spec}
			}
			return o.startEvolution(cmd.Context(), ev, &f)
		},
	}
	f.bind(o, cmd)
	cmd.Flags().StringVarP(&file, "filename", "f", "", `YAML or JSON file with the Evolution, "-" for standard input`)
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	return cmd
}

// newAgentEvolveCmd is `swarmctl agent evolve`.
func newAgentEvolveCmd(o *options) *cobra.Command {
	var f evolutionFlags
	var name string
	cmd := &cobra.Command{
		Use:   "evolve AGENT --suite SUITE [flags]",
		Short: "Evolve an agent: start an evolution over its template's search space",
		Long: `Start an evolution whose spec.agent is AGENT: the strategy searches the search
space of AGENT's template (--space overrides it) and the suite scores the
candidates. The flags are those of evolution start; the evolution is named
--name, else AGENT followed by a random suffix.

Like evolution start, it follows the evolution until it ends (exit code 0 if
it succeeded) unless --detach.`,
		Example: `  swarmctl agent evolve solver --suite tsplib --strategy random --objective gap:min --max-evaluations 500

  # Named, with two objectives, in the background
  swarmctl agent evolve solver --name solver-night --suite tsplib --strategy random \
      --objective gap:min --objective time_ms:min --wall-time 8h --detach`,
		Args:              exactArgs(1, "AGENT"),
		ValidArgsFunction: o.completeAgents(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				name = generatedName(args[0])
			} else if err := checkEvolutionName(name); err != nil {
				return usagef("--name %v", err)
			}
			spec, err := f.spec(cmd.Flags(), o.readManifest)
			if err != nil {
				return err
			}
			spec.Agent = args[0]
			return o.startEvolution(cmd.Context(), &v1.Evolution{Metadata: &v1.ObjectMeta{Name: name}, Spec: spec}, &f)
		},
	}
	f.bind(o, cmd)
	cmd.Flags().StringVar(&name, "name", "", "name of the evolution (default: AGENT-xxxxx)")
	return cmd
}

// generatedName is base followed by five random lowercase letters and
// digits, shortened to fit a DNS label.
func generatedName(base string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [5]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	if len(base) > 57 {
		base = base[:57]
	}
	return strings.TrimRight(base, "-") + "-" + string(b[:])
}

// startEvolution creates ev and, unless detached, follows it.
func (o *options) startEvolution(ctx context.Context, ev *v1.Evolution, f *evolutionFlags) error {
	requestID := f.requestID
	if requestID == "" {
		requestID = randomID()
	}
	c, err := o.connect(false)
	if err != nil {
		return err
	}
	defer c.Close()
	name := ev.GetMetadata().GetName()
	op, err := createEvolution(ctx, c.evolutions(), ev, requestID)
	if err != nil {
		return fmt.Errorf("start evolution %q: %w", name, err)
	}
	if e := op.GetError(); e != nil {
		return fmt.Errorf("start evolution %q: operation %s failed: %s", name, op.GetMetadata().GetName(), e.GetMessage())
	}
	if f.detach {
		if o.output != outputTable {
			return printMessage(o.out, o.output, op)
		}
		fmt.Fprintf(o.out, "evolution/%s started (operation %s)\n", name, orNone(op.GetMetadata().GetName()))
		fmt.Fprintf(o.out, "Follow it with: swarmctl evolution watch %s\n", name)
		if c.target.local {
			fmt.Fprintln(o.errOut, "note: in local mode the evolution stops when swarmctl exits; it resumes the next time swarmctl runs on this data dir")
		}
		return nil
	}
	if o.output == outputTable {
		fmt.Fprintf(o.out, "evolution/%s started\n", name)
	}
	return o.followEvolution(ctx, c.evolutions(), name)
}

// createEvolution creates ev, retrying with the same request id when the
// call failed in transit.
func createEvolution(ctx context.Context, client v1.EvolutionServiceClient, ev *v1.Evolution, requestID string) (*v1.Operation, error) {
	for attempt := 1; ; attempt++ {
		op, err := client.CreateEvolution(ctx, &v1.CreateEvolutionRequest{Evolution: ev, RequestId: requestID})
		if (isCode(err, codes.Unavailable) || isCode(err, codes.DeadlineExceeded)) && attempt < createAttempts && ctx.Err() == nil {
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		return op, err
	}
}

// newEvolutionLsCmd is `swarmctl evolution ls`.
func newEvolutionLsCmd(o *options) *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:     "ls [NAME...]",
		Aliases: []string{"get", "list"},
		Short:   "List evolutions",
		Long: `List evolutions with their phase, strategy, suite, generation, evaluations
(done/budget), the best score of the primary objective and their age.

With names, only those evolutions are shown. -l filters by labels; -w keeps
running and prints a row, with the event that caused it, for every change.`,
		Example: `  swarmctl evolution ls
  swarmctl evolution ls demo -o yaml
  swarmctl evolution ls -w`,
		ValidArgsFunction: o.completeEvolutions(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), o, &lf, args, lsSpec[*v1.Evolution]{
				singular: "evolution", plural: "evolutions", header: evolutionColumns(), row: evolutionRow, list: listEvolutions, watch: watchEvolutions,
				get: func(ctx context.Context, c *conn, name string) (*v1.Evolution, error) {
					return c.evolutions().GetEvolution(ctx, &v1.GetEvolutionRequest{Name: name})
				},
			})
		},
	}
	lf.bind(cmd)
	return cmd
}

// writeEvolutionTable writes the table of `evolution ls`.
func writeEvolutionTable(w io.Writer, evs []*v1.Evolution, now time.Time) error {
	return writeTable(w, evolutionColumns(), evolutionRow, evs, now)
}

// watchEvolutions streams evolution events.
func watchEvolutions(ctx context.Context, o *options, c *conn, selector string) error {
	stream, err := c.evolutions().WatchEvolutions(ctx, &v1.WatchEvolutionsRequest{})
	if err != nil {
		return err
	}
	return runWatch(ctx, o.out, o.output, watchSpec[*v1.Evolution]{
		header:   evolutionColumns(),
		row:      evolutionRow,
		labels:   func(ev *v1.Evolution) map[string]string { return ev.GetMetadata().GetLabels() },
		selector: selector,
		recv: func() (v1.EventType, *v1.Evolution, error) {
			ev, err := stream.Recv()
			return ev.GetType(), ev.GetEvolution(), err
		},
	})
}

// evolutionRow is one line of `evolution ls`.
func evolutionRow(ev *v1.Evolution, now time.Time) []string {
	st := ev.GetStatus()
	return []string{
		ev.GetMetadata().GetName(),
		orNone(st.GetPhase()),
		pluginRef(ev.GetSpec().GetStrategy()),
		orNone(ev.GetSpec().GetSuite()),
		strconv.Itoa(int(st.GetGeneration())),
		evaluationsString(ev),
		bestString(ev),
		age(ev.GetMetadata().GetCreateTime(), now),
	}
}

// evaluationsString writes done/budget, or done without a budget.
func evaluationsString(ev *v1.Evolution) string {
	n := strconv.FormatInt(ev.GetStatus().GetEvaluations(), 10)
	if limit := ev.GetSpec().GetBudget().GetMaxEvaluations(); limit > 0 {
		return n + "/" + strconv.FormatInt(limit, 10)
	}
	return n
}

// bestString writes the best score of the primary objective as
// "name=value" (the first score by name without objectives), or <none>.
func bestString(ev *v1.Evolution) string {
	scores := ev.GetStatus().GetBestScores()
	name := ""
	if objs := ev.GetSpec().GetObjectives(); len(objs) > 0 {
		name = objs[0].GetName()
	} else if keys := sortedKeys(scores); len(keys) > 0 {
		name = keys[0]
	}
	v, ok := scores[name]
	if !ok {
		return "<none>"
	}
	return name + "=" + formatScore(v)
}

// formatScore writes a score with six significant digits.
func formatScore(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// newEvolutionDescribeCmd is `swarmctl evolution describe`.
func newEvolutionDescribeCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show the details of an evolution and its best candidate",
		Long: `Show everything known about an evolution: metadata, its spec (agent,
strategy, suite, objectives, budget, seed, stages, search space), its status
(phase, generation, evaluations, times, reason, best scores, conditions) and
the best candidate with its scores and genome.`,
		Example: `  swarmctl evolution describe demo
  swarmctl evolution describe demo -o yaml`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeEvolutions(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ev, err := c.evolutions().GetEvolution(cmd.Context(), &v1.GetEvolutionRequest{Name: args[0]})
			if err != nil {
				return fmt.Errorf("evolution %q: %w", args[0], err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, ev)
			}
			var best *v1.Candidate
			var bestErr error
			if b := ev.GetStatus().GetBestCandidate(); b != "" {
				best, bestErr = c.evolutions().GetCandidate(cmd.Context(), &v1.GetCandidateRequest{Evolution: args[0], Name: b})
			}
			return describeEvolution(o.out, ev, best, bestErr, time.Now())
		},
	}
}

// describeEvolution writes an evolution kubectl-describe style, with its
// best candidate (or why it could not be read).
func describeEvolution(w io.Writer, ev *v1.Evolution, best *v1.Candidate, bestErr error, now time.Time) error {
	d := newDescriber(w)
	describeMeta(d, ev.GetMetadata(), now)
	s := ev.GetSpec()
	d.section(0, "Spec")
	d.field(1, "Agent", orNone(s.GetAgent()))
	d.field(1, "Strategy", pluginRef(s.GetStrategy()))
	if cfg := s.GetStrategy().GetConfig(); cfg != nil {
		raw, err := messageJSON(cfg)
		if err != nil {
			return err
		}
		d.field(1, "Strategy config", string(raw))
	}
	d.field(1, "Suite", orNone(s.GetSuite()))
	var objs []string
	for _, obj := range s.GetObjectives() {
		objs = append(objs, obj.GetName()+" ("+directionName(obj.GetDirection())+")")
	}
	if len(objs) == 0 {
		objs = []string{"<the suite's>"}
	}
	d.field(1, "Objectives", strings.Join(objs, ", "))
	d.field(1, "Budget", budgetString(s.GetBudget()))
	d.field(1, "Candidate limits", candidateLimitsString(s.GetCandidateResources()))
	d.field(1, "Seed", strconv.FormatUint(s.GetSeed(), 10))
	d.section(1, "Stages")
	var rows [][]string
	for _, st := range s.GetStages() {
		rows = append(rows, []string{st.GetName(), st.GetSubset(), formatScore(st.GetThreshold())})
	}
	d.table(2, []string{"NAME", "SUBSET", "THRESHOLD"}, rows)
	d.field(1, "Trust scorer", orDefault(pluginRef(s.GetTrustScorer()), "<none>", "beta"))
	d.field(1, "Trust threshold", trustThresholdString(s.GetTrustThreshold()))
	d.field(1, "Personality", pluginRef(s.GetPersonality()))
	if space := s.GetSearchSpace(); space != nil {
		d.section(1, "Search space")
		rows = nil
		for _, p := range space.GetParameters() {
			typ, rng := parameterType(p)
			rows = append(rows, []string{p.GetName(), typ, rng, p.GetDescription()})
		}
		d.table(2, []string{"NAME", "TYPE", "DOMAIN", "DESCRIPTION"}, rows)
	} else if s.GetAgent() != "" {
		d.field(1, "Search space", "<agent "+s.GetAgent()+"'s>")
	} else {
		d.field(1, "Search space", "<the suite's>")
	}

	st := ev.GetStatus()
	d.section(0, "Status")
	d.field(1, "Phase", orNone(st.GetPhase()))
	if st.GetReason() != "" {
		d.field(1, "Reason", oneLine(st.GetReason()))
	}
	d.field(1, "Generation", strconv.Itoa(int(st.GetGeneration())))
	d.field(1, "Evaluations", evaluationsString(ev))
	d.field(1, "Started", timeAndAge(st.GetStartTime(), now))
	d.field(1, "Ended", timeAndAge(st.GetEndTime(), now))
	d.field(1, "Best candidate", orNone(st.GetBestCandidate()))
	d.section(1, "Best scores")
	d.table(2, []string{"NAME", "VALUE"}, scoreRows(st.GetBestScores()))
	d.section(1, "Conditions")
	d.table(2, []string{"TYPE", "STATUS", "REASON", "MESSAGE", "LAST TRANSITION"}, conditionRows(st.GetConditions(), now))

	if name := st.GetBestCandidate(); name != "" {
		d.section(0, "Best candidate "+name)
		if bestErr != nil {
			d.field(1, "Error", describeError(bestErr))
			return d.flush()
		}
		cs := best.GetSpec()
		d.field(1, "Generation", strconv.Itoa(int(cs.GetGeneration())))
		d.field(1, "Operator", orNone(cs.GetOperator()))
		d.field(1, "Parents", orNone(strings.Join(cs.GetParents(), ", ")))
		d.field(1, "Phase", orNone(best.GetStatus().GetPhase()))
		d.field(1, "Stage", orNone(best.GetStatus().GetStage()))
		if ts := best.GetStatus().GetTrust(); ts != nil {
			d.field(1, "Trust", trustString(ts))
		}
		d.section(1, "Scores")
		d.table(2, []string{"NAME", "VALUE"}, scoreRows(best.GetStatus().GetScores()))
		d.section(1, "Genome")
		d.table(2, []string{"PARAMETER", "VALUE"}, genomeRows(cs.GetGenome()))
	}
	return d.flush()
}

// orDefault is s, or def when s is none.
func orDefault(s, none, def string) string {
	if s == none {
		return def
	}
	return s
}

// trustThresholdString writes an evolution's trust threshold.
func trustThresholdString(t float64) string {
	switch {
	case t < 0:
		return "none (the trust gate is off)"
	case t == 0:
		return "<swarmd's trust-threshold>"
	}
	return strconv.FormatFloat(t, 'g', -1, 64)
}

// trustString writes a candidate's trust score.
func trustString(ts *v1.TrustScore) string {
	return fmt.Sprintf("score %.3g, lower bound %.3g, uncertainty %.3g (%s, %d evidence records)",
		ts.GetScore(), ts.GetLowerBound(), ts.GetUncertainty(), pluginRef(ts.GetScorer()), ts.GetEvidenceCount())
}

// directionName spells a direction for people.
func directionName(d v1.Objective_Direction) string {
	switch d {
	case v1.Objective_MAXIMIZE:
		return "maximize"
	case v1.Objective_MINIMIZE:
		return "minimize"
	}
	return "unspecified: minimize"
}

// budgetString writes the limits that are set.
func budgetString(b *v1.Budget) string {
	var parts []string
	if n := b.GetMaxEvaluations(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d evaluations", n))
	}
	if n := b.GetMaxGenerations(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d generations", n))
	}
	if d := b.GetWallTime(); d != nil && d.AsDuration() > 0 {
		parts = append(parts, "wall time "+d.AsDuration().String())
	}
	if n := b.GetParallelism(); n > 0 {
		parts = append(parts, fmt.Sprintf("parallelism %d", n))
	}
	if n := b.GetBatchSize(); n > 0 {
		parts = append(parts, fmt.Sprintf("batch size %d", n))
	}
	return orNone(strings.Join(parts, ", "))
}

// candidateLimitsString writes the candidate limits an evolution sets;
// what it leaves unset takes swarmd's defaults.
func candidateLimitsString(r *v1.ResourceList) string {
	var parts []string
	if m := r.GetMemoryBytes(); m > 0 {
		parts = append(parts, "memory "+humanBytes(m))
	}
	if m := r.GetCpuMillis(); m > 0 {
		parts = append(parts, "CPUs "+strconv.FormatFloat(float64(m)/1000, 'f', -1, 64))
	}
	if n := r.GetPids(); n > 0 {
		parts = append(parts, fmt.Sprintf("pids %d", n))
	}
	for _, t := range container.KnownTiers() {
		if q, ok := r.GetTierBytes()[string(t)]; ok {
			parts = append(parts, "tier "+string(t)+"="+humanBytes(q))
		}
	}
	for _, t := range sortedKeys(r.GetTierBytes()) {
		if !container.Tier(t).Known() {
			parts = append(parts, "tier "+t+"="+humanBytes(r.GetTierBytes()[t]))
		}
	}
	if len(parts) == 0 {
		return "<swarmd's defaults>"
	}
	return strings.Join(parts, ", ") + " (unset: swarmd's defaults)"
}

// genomeRows lays a genome out as parameter, value rows sorted by name.
func genomeRows(g *structpb.Struct) [][]string {
	fields := g.GetFields()
	rows := make([][]string, 0, len(fields))
	for _, k := range sortedKeys(fields) {
		rows = append(rows, []string{k, genomeValue(fields[k])})
	}
	return rows
}

// genomeValue writes a string as it is and anything else as compact JSON.
func genomeValue(v *structpb.Value) string {
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	raw, err := protojson.Marshal(v)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// newEvolutionWatchCmd is `swarmctl evolution watch`.
func newEvolutionWatchCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "watch NAME",
		Short: "Follow an evolution until it ends or pauses",
		Long: `Follow an evolution's progress: generation, evaluations done of the budget,
the best score of the primary objective and an estimate of the time left
(from the evaluation rate, or the wall-time budget). On a terminal this is
one line redrawn in place; otherwise one line per change.

The command ends when the evolution reaches Succeeded (exit code 0), or
Failed, Cancelled or Paused (exit code 1, with the reason). With -o json or
yaml it prints nothing while following and then the final Evolution.`,
		Example: `  swarmctl evolution watch demo

  # In a script: wait, then read the outcome
  swarmctl evolution watch demo -o json > demo.json`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeEvolutions(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			return o.followEvolution(cmd.Context(), c.evolutions(), args[0])
		},
	}
}

// followEvolution shows an evolution's progress until it stops and
// returns an error unless it succeeded.
func (o *options) followEvolution(ctx context.Context, client v1.EvolutionServiceClient, name string) error {
	view := &evolutionView{w: o.out, tty: isTerminal(o.out), quiet: o.output != outputTable, now: time.Now}
	ev, err := watchEvolution(ctx, client, name, view.update)
	view.finish()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped following evolution %s (%s); it goes on unless swarmctl runs it in local mode: swarmctl evolution watch %s", name, orNone(ev.GetStatus().GetPhase()), name)
		}
		return err
	}
	if o.output != outputTable {
		if err := printMessage(o.out, o.output, ev); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(o.out, evolutionSummary(ev))
	}
	return evolutionOutcome(ev)
}

// stopsWatch reports whether a watch ends at phase: a final phase or Paused.
func stopsWatch(phase string) bool {
	switch phase {
	case evolve.PhaseSucceeded, evolve.PhaseFailed, evolve.PhaseCancelled, evolve.PhasePaused:
		return true
	}
	return false
}

// watchEvolution calls seen with the evolution's state, first as it is and
// then at every change, until it reaches a phase that ends the watch, and
// returns that state (followOne over WatchEvolutions, polling GetEvolution
// against a server without it). On error it returns the last state seen.
func watchEvolution(ctx context.Context, client v1.EvolutionServiceClient, name string, seen func(*v1.Evolution)) (*v1.Evolution, error) {
	return followOne(ctx, follower[*v1.Evolution]{
		kind: "evolution",
		get: func(ctx context.Context) (*v1.Evolution, error) {
			ev, err := client.GetEvolution(ctx, &v1.GetEvolutionRequest{Name: name})
			if err != nil {
				return nil, fmt.Errorf("evolution %q: %w", name, err)
			}
			return ev, nil
		},
		watch: func(ctx context.Context) (func() (v1.EventType, *v1.Evolution, error), error) {
			stream, err := client.WatchEvolutions(ctx, &v1.WatchEvolutionsRequest{})
			if err != nil {
				return nil, err
			}
			return func() (v1.EventType, *v1.Evolution, error) {
				resp, err := stream.Recv()
				return resp.GetType(), resp.GetEvolution(), err
			}, nil
		},
		name:  func(ev *v1.Evolution) string { return ev.GetMetadata().GetName() },
		ended: func(ev *v1.Evolution) bool { return stopsWatch(ev.GetStatus().GetPhase()) },
		poll:  evolutionPollInterval,
	}, name, seen)
}

// evolutionOutcome is nil for a Succeeded evolution and an error that says
// why for any other.
func evolutionOutcome(ev *v1.Evolution) error {
	name, st := ev.GetMetadata().GetName(), ev.GetStatus()
	reason := orNone(oneLine(st.GetReason()))
	switch st.GetPhase() {
	case evolve.PhaseSucceeded:
		return nil
	case evolve.PhasePaused:
		return withHint(fmt.Errorf("evolution %s is Paused: %s", name, reason),
			"resume it with swarmctl evolution resume %s (--strategy NAME@VERSION switches the strategy)", name)
	case evolve.PhaseCancelled:
		return fmt.Errorf("evolution %s was Cancelled: %s", name, reason)
	}
	return fmt.Errorf("evolution %s %s: %s", name, orNone(st.GetPhase()), reason)
}

// evolutionSummary is the line printed when a watch ends.
func evolutionSummary(ev *v1.Evolution) string {
	st := ev.GetStatus()
	s := fmt.Sprintf("evolution/%s %s: generation %d, %s evaluations", ev.GetMetadata().GetName(), orNone(st.GetPhase()), st.GetGeneration(), evaluationsString(ev))
	if start, end := st.GetStartTime(), st.GetEndTime(); start != nil && end != nil && end.AsTime().After(start.AsTime()) {
		s += " in " + roundDuration(end.AsTime().Sub(start.AsTime())).String()
	}
	if b := st.GetBestCandidate(); b != "" {
		s += fmt.Sprintf("; best candidate %s (%s)", b, strings.Join(scorePairs(st.GetBestScores()), ", "))
	}
	return s
}

// roundDuration rounds to seconds, or to milliseconds under a second.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// scorePairs writes scores as sorted name=value strings.
func scorePairs(scores map[string]float64) []string {
	out := make([]string, 0, len(scores))
	for _, k := range sortedKeys(scores) {
		out = append(out, k+"="+formatScore(scores[k]))
	}
	return out
}

// evolutionView draws an evolution's progress: one line redrawn with \r
// on a terminal, else a line per change; nothing when quiet.
type evolutionView struct {
	w     io.Writer
	tty   bool
	quiet bool
	now   func() time.Time

	lastKey string
	width   int
}

// update draws ev's state.
func (v *evolutionView) update(ev *v1.Evolution) {
	if v.quiet {
		return
	}
	line := progressLine(ev, v.now(), v.tty)
	if !v.tty {
		// ETA changes with time alone: print only real changes
		key := ev.GetStatus().GetPhase() + "|" + evaluationsString(ev) + "|" + strconv.Itoa(int(ev.GetStatus().GetGeneration())) + "|" + bestString(ev)
		if key == v.lastKey {
			return
		}
		v.lastKey = key
		fmt.Fprintln(v.w, line)
		return
	}
	pad := max(v.width-len([]rune(line)), 0)
	v.width = len([]rune(line))
	fmt.Fprintf(v.w, "\r%s%s", line, strings.Repeat(" ", pad))
}

// finish ends the terminal line.
func (v *evolutionView) finish() {
	if v.tty && !v.quiet && v.width > 0 {
		fmt.Fprintln(v.w)
		v.width = 0
	}
}

// progressLine renders one progress line; bar adds a progress bar of the
// evaluations (or generations) budget.
func progressLine(ev *v1.Evolution, now time.Time, bar bool) string {
	st, b := ev.GetStatus(), ev.GetSpec().GetBudget()
	var parts []string
	parts = append(parts, fmt.Sprintf("evolution/%s %s", ev.GetMetadata().GetName(), orNone(st.GetPhase())))
	gen := fmt.Sprintf("gen %d", st.GetGeneration())
	if mg := b.GetMaxGenerations(); mg > 0 {
		gen += "/" + strconv.Itoa(int(mg))
	}
	parts = append(parts, gen)
	if bar {
		done, total := float64(st.GetEvaluations()), float64(b.GetMaxEvaluations())
		if total <= 0 && b.GetMaxGenerations() > 0 {
			done, total = float64(st.GetGeneration()), float64(b.GetMaxGenerations())
		}
		if total > 0 {
			const width = 20
			frac := math.Min(math.Max(done/total, 0), 1)
			fill := int(frac * width)
			parts = append(parts, fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), int(frac*100)))
		}
	}
	parts = append(parts, "evals "+evaluationsString(ev), "best "+bestString(ev))
	if !stopsWatch(st.GetPhase()) {
		if eta, ok := estimateETA(ev, now); ok {
			parts = append(parts, "ETA "+roundDuration(eta).String())
		}
	}
	return strings.Join(parts, "  ")
}

// estimateETA estimates the time left: the soonest of the evaluation
// budget at the rate so far, the generation budget at the rate so far, and
// the end of the wall-time budget. ok is false when none is known.
func estimateETA(ev *v1.Evolution, now time.Time) (eta time.Duration, ok bool) {
	st, b := ev.GetStatus(), ev.GetSpec().GetBudget()
	if st.GetStartTime() == nil {
		return 0, false
	}
	elapsed := now.Sub(st.GetStartTime().AsTime())
	if elapsed <= 0 {
		return 0, false
	}
	consider := func(d time.Duration) {
		d = max(d, 0)
		if !ok || d < eta {
			eta, ok = d, true
		}
	}
	rate := func(done, total float64) {
		if total > 0 && done > 0 {
			consider(time.Duration(float64(elapsed) * (total - done) / done))
		}
	}
	rate(float64(st.GetEvaluations()), float64(b.GetMaxEvaluations()))
	if b.GetMaxEvaluations() <= 0 {
		rate(float64(st.GetGeneration()), float64(b.GetMaxGenerations()))
	}
	if w := b.GetWallTime(); w != nil && w.AsDuration() > 0 {
		consider(w.AsDuration() - elapsed)
	}
	return eta, ok
}

// newEvolutionArchiveCmd is `swarmctl evolution archive`.
func newEvolutionArchiveCmd(o *options) *cobra.Command {
	var sortBy, objective string
	cmd := &cobra.Command{
		Use:   "archive NAME",
		Short: "List the candidates of an evolution",
		Long: `List every candidate of an evolution: its generation, phase, the operator
that made it, its parents, a column per objective with its score, and the last
stage it reached. Candidates are sorted by generation, then name; --sort score
puts the best first by the primary objective (or --objective), in that
objective's direction. Only candidates evaluated on the whole suite (through
the last stage) and the baseline (the suite's incumbent design) are ranked;
the others follow.`,
		Example: `  swarmctl evolution archive demo
  swarmctl evolution archive demo --sort score | head
  swarmctl evolution archive demo -o json`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeEvolutions(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sortBy != "generation" && sortBy != "score" {
				return usagef("--sort %q: want generation or score", sortBy)
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ev, cands, err := evolutionArchive(cmd.Context(), c.evolutions(), args[0])
			if err != nil {
				return err
			}
			objs := archiveObjectives(ev, cands)
			if sortBy == "score" {
				obj, err := o.pickObjective(ev, objective, cands)
				if err != nil {
					return err
				}
				sortByScore(cands, newScoreRule(ev, obj))
			}
			if o.output != outputTable {
				return printList(o.out, o.output, cands)
			}
			if len(cands) == 0 {
				fmt.Fprintf(o.errOut, "No candidates found in evolution %s.\n", args[0])
				return nil
			}
			return writeArchiveTable(o.out, cands, objs)
		},
	}
	cmd.Flags().StringVar(&sortBy, "sort", "generation", "order: generation (then name) or score (best first)")
	cmd.Flags().StringVar(&objective, "objective", "", "objective --sort score ranks by (default: the primary one)")
	_ = cmd.RegisterFlagCompletionFunc("sort", cobra.FixedCompletions([]string{"generation", "score"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// evolutionArchive reads an evolution and its candidates, sorted by
// generation, then name.
func evolutionArchive(ctx context.Context, client v1.EvolutionServiceClient, name string) (*v1.Evolution, []*v1.Candidate, error) {
	ev, err := client.GetEvolution(ctx, &v1.GetEvolutionRequest{Name: name})
	if err != nil {
		return nil, nil, fmt.Errorf("evolution %q: %w", name, err)
	}
	cands, err := listCandidates(ctx, client, name)
	if err != nil {
		return nil, nil, fmt.Errorf("candidates of evolution %q: %w", name, err)
	}
	sortByGeneration(cands)
	return ev, cands, nil
}

// sortByGeneration orders candidates by generation, then name.
func sortByGeneration(cands []*v1.Candidate) {
	sort.SliceStable(cands, func(i, j int) bool {
		gi, gj := cands[i].GetSpec().GetGeneration(), cands[j].GetSpec().GetGeneration()
		if gi != gj {
			return gi < gj
		}
		return cands[i].GetMetadata().GetName() < cands[j].GetMetadata().GetName()
	})
}

// scoreRule says which scores compare, as the server decides the best
// candidate: those of candidates Evaluated through the last stage (on the
// whole suite), and the baseline's, evaluated once on every task.
type scoreRule struct {
	objective string
	dir       v1.Objective_Direction
	// lastStage is the name of the last stage; "" without stages.
	lastStage string
	// then are the other objectives, which break ties in order.
	then []*v1.Objective
}

// newScoreRule ranks by obj under ev's stages.
func newScoreRule(ev *v1.Evolution, obj *v1.Objective) scoreRule {
	r := scoreRule{objective: obj.GetName(), dir: obj.GetDirection()}
	for _, o := range ev.GetSpec().GetObjectives() {
		if o.GetName() != obj.GetName() {
			r.then = append(r.then, o)
		}
	}
	if stages := ev.GetSpec().GetStages(); len(stages) > 0 {
		r.lastStage = stages[len(stages)-1].GetName()
	}
	return r
}

// score is c's score when it compares with others (see scoreRule) and is
// a number.
func (r scoreRule) score(c *v1.Candidate) (float64, bool) {
	st := c.GetStatus()
	if st.GetPhase() != evolve.CandidateEvaluated {
		return 0, false
	}
	if r.lastStage != "" && st.GetStage() != r.lastStage && c.GetMetadata().GetName() != evolve.BaselineCandidate {
		return 0, false
	}
	v, ok := st.GetScores()[r.objective]
	return v, ok && !math.IsNaN(v)
}

// better reports whether score a beats b; an unspecified direction
// minimizes.
func (r scoreRule) better(a, b float64) bool {
	if r.dir == v1.Objective_MAXIMIZE {
		return a > b
	}
	return a < b
}

// sortByScore orders candidates best first by r; candidates without a
// comparable score follow in their order (generation, then name).
func sortByScore(cands []*v1.Candidate, r scoreRule) {
	sort.SliceStable(cands, func(i, j int) bool {
		a, aok := r.score(cands[i])
		b, bok := r.score(cands[j])
		if aok != bok {
			return aok
		}
		if !aok {
			return false
		}
		if a != b {
			return r.better(a, b)
		}
		for _, o := range r.then { // ties: the next objectives, in order
			x, xok := cands[i].GetStatus().GetScores()[o.GetName()]
			y, yok := cands[j].GetStatus().GetScores()[o.GetName()]
			if !xok || !yok || x == y {
				continue
			}
			if o.GetDirection() == v1.Objective_MAXIMIZE {
				return x > y
			}
			return x < y
		}
		return false
	})
}

// archiveObjectives are the score columns: the spec's objectives, else
// every score name the candidates carry.
func archiveObjectives(ev *v1.Evolution, cands []*v1.Candidate) []string {
	var names []string
	for _, obj := range ev.GetSpec().GetObjectives() {
		names = append(names, obj.GetName())
	}
	if len(names) > 0 {
		return names
	}
	seen := map[string]bool{}
	for _, c := range cands {
		for k := range c.GetStatus().GetScores() {
			seen[k] = true
		}
	}
	return sortedKeys(seen)
}

// pickObjective finds the objective named by flag (NAME, or NAME:min|max
// for a score the spec does not declare), else the primary one. Without
// objectives in the spec (the suite's apply), it takes the first score name
// the evolution reports, minimized, and says so on the error stream.
func (o *options) pickObjective(ev *v1.Evolution, flag string, cands []*v1.Candidate) (*v1.Objective, error) {
	objs := ev.GetSpec().GetObjectives()
	if flag == "" {
		if len(objs) > 0 {
			return objs[0], nil
		}
		names := map[string]bool{}
		for k := range ev.GetStatus().GetBestScores() {
			names[k] = true
		}
		for _, c := range cands {
			for k := range c.GetStatus().GetScores() {
				names[k] = true
			}
		}
		keys := sortedKeys(names)
		if len(keys) == 0 {
			return nil, fmt.Errorf("evolution %s has no scores yet", ev.GetMetadata().GetName())
		}
		fmt.Fprintf(o.errOut, "note: evolution %s names no objectives (its suite's apply); using %s, lower is better: choose with --objective NAME:min|max\n", ev.GetMetadata().GetName(), keys[0])
		return &v1.Objective{Name: keys[0], Direction: v1.Objective_MINIMIZE}, nil
	}
	want, explicit, err := parseObjective(flag)
	if err != nil {
		return nil, err
	}
	for _, obj := range objs {
		if obj.GetName() == want.GetName() {
			if explicit {
				return want, nil
			}
			return obj, nil
		}
	}
	if explicit {
		return want, nil
	}
	var known []string
	for _, obj := range objs {
		known = append(known, obj.GetName())
	}
	return nil, usagef("--objective %q: not an objective of evolution %s (it has: %s); for another score say its direction, %s:min or %s:max",
		flag, ev.GetMetadata().GetName(), orNone(strings.Join(known, ", ")), want.GetName(), want.GetName())
}

// writeArchiveTable writes the table of `evolution archive`.
func writeArchiveTable(w io.Writer, cands []*v1.Candidate, objectives []string) error {
	header := []string{"NAME", "GEN", "PHASE", "OPERATOR", "PARENTS"}
	for _, obj := range objectives {
		header = append(header, strings.ToUpper(obj))
	}
	header = append(header, "STAGE")
	tw := newTable(w)
	writeRow(tw, header...)
	for _, c := range cands {
		phase := orNone(c.GetStatus().GetPhase())
		if evolve.Untrusted(c) {
			phase += " (untrusted)" // the trust gate kept it out: never a parent or the best
		}
		row := []string{
			c.GetMetadata().GetName(),
			strconv.Itoa(int(c.GetSpec().GetGeneration())),
			phase,
			orNone(c.GetSpec().GetOperator()),
			truncate(orNone(strings.Join(c.GetSpec().GetParents(), ",")), 40),
		}
		for _, obj := range objectives {
			v, ok := c.GetStatus().GetScores()[obj]
			if ok {
				row = append(row, formatScore(v))
			} else {
				row = append(row, "<none>")
			}
		}
		row = append(row, orNone(c.GetStatus().GetStage()))
		writeRow(tw, row...)
	}
	return tw.Flush()
}

// newEvolutionLineageCmd is `swarmctl evolution lineage`.
func newEvolutionLineageCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lineage NAME CANDIDATE",
		Short: "Show the ancestry of a candidate as a tree",
		Long: `Show CANDIDATE and its ancestors, following spec.parents, as an indented
tree: each line a candidate with its generation, operator and scores, its
parents below it. An ancestor reached a second time (crossover of relatives)
is shown once in full and then marked (see above); a parent missing from the
archive is marked <not in archive>.

-o json prints the tree as nested objects {name, generation, operator, phase,
scores, parents: [...]}, with "repeated": true or "missing": true on such
nodes.`,
		Example: `  swarmctl evolution lineage demo r-000042
  swarmctl evolution lineage demo "$(swarmctl evolution describe demo -o json | jq -r .status.bestCandidate)" -o json`,
		Args: exactArgs(2, "NAME CANDIDATE"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return o.completeEvolutions(1)(cmd, args, toComplete)
			}
			return o.completeNames(2, func(ctx context.Context, c *conn) ([]string, error) {
				cands, err := listCandidates(ctx, c.evolutions(), args[0])
				names := make([]string, 0, len(cands))
				for _, cand := range cands {
					names = append(names, cand.GetMetadata().GetName())
				}
				sort.Strings(names)
				return names, err
			})(cmd, args, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ev, cands, err := evolutionArchive(cmd.Context(), c.evolutions(), args[0])
			if err != nil {
				return err
			}
			tree := buildLineage(cands, args[1])
			if tree.Missing {
				return fmt.Errorf("candidate %q is not in the archive of evolution %s", args[1], args[0])
			}
			if o.output != outputTable {
				raw, err := json.Marshal(tree)
				if err != nil {
					return err
				}
				return writeStructured(o.out, o.output, raw)
			}
			return writeLineage(o.out, tree, archiveObjectives(ev, cands))
		},
	}
	return cmd
}

// lineageNode is a candidate in an ancestry tree.
type lineageNode struct {
	Name       string             `json:"name"`
	Generation int32              `json:"generation"`
	Operator   string             `json:"operator,omitempty"`
	Phase      string             `json:"phase,omitempty"`
	Scores     map[string]float64 `json:"scores,omitempty"`
	// Missing: the parent is not in the archive.
	Missing bool `json:"missing,omitempty"`
	// Repeated: the candidate is expanded elsewhere in the tree.
	Repeated bool           `json:"repeated,omitempty"`
	Parents  []*lineageNode `json:"parents,omitempty"`
}

// buildLineage makes the ancestry tree of the candidate named root. Each
// ancestor is expanded once, depth first in parent order.
func buildLineage(cands []*v1.Candidate, root string) *lineageNode {
	byName := make(map[string]*v1.Candidate, len(cands))
	for _, c := range cands {
		byName[c.GetMetadata().GetName()] = c
	}
	expanded := map[string]bool{}
	var build func(name string) *lineageNode
	build = func(name string) *lineageNode {
		c, ok := byName[name]
		if !ok {
			return &lineageNode{Name: name, Missing: true}
		}
		n := &lineageNode{Name: name, Generation: c.GetSpec().GetGeneration()}
		if expanded[name] {
			n.Repeated = true
			return n
		}
		expanded[name] = true
		n.Operator, n.Phase = c.GetSpec().GetOperator(), c.GetStatus().GetPhase()
		n.Scores = finiteScores(c.GetStatus().GetScores())
		for _, p := range c.GetSpec().GetParents() {
			n.Parents = append(n.Parents, build(p))
		}
		return n
	}
	return build(root)
}

// finiteScores drops scores JSON cannot carry (NaN, ±Inf).
func finiteScores(scores map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(scores))
	for k, v := range scores {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}

// writeLineage writes the tree with box-drawing branches, scores in the
// order of objectives.
func writeLineage(w io.Writer, root *lineageNode, objectives []string) error {
	var b strings.Builder
	var walk func(n *lineageNode, prefix, branch, next string)
	walk = func(n *lineageNode, prefix, branch, next string) {
		b.WriteString(prefix + branch + lineageLabel(n, objectives) + "\n")
		for i, p := range n.Parents {
			if i == len(n.Parents)-1 {
				walk(p, prefix+next, "└── ", "    ")
			} else {
				walk(p, prefix+next, "├── ", "│   ")
			}
		}
	}
	walk(root, "", "", "")
	_, err := io.WriteString(w, b.String())
	return err
}

// lineageLabel is one node's line.
func lineageLabel(n *lineageNode, objectives []string) string {
	switch {
	case n.Missing:
		return n.Name + "  <not in archive>"
	case n.Repeated:
		return fmt.Sprintf("%s  gen %d  (see above)", n.Name, n.Generation)
	}
	parts := []string{n.Name, fmt.Sprintf("gen %d", n.Generation), orNone(n.Operator), orNone(n.Phase)}
	for _, obj := range objectives {
		if v, ok := n.Scores[obj]; ok {
			parts = append(parts, obj+"="+formatScore(v))
		}
	}
	return strings.Join(parts, "  ")
}

// bestGenome is what `evolution best -o json` prints; the example agents
// accept it as their --genome file.
type bestGenome struct {
	Genome    json.RawMessage `json:"genome"`
	Candidate string          `json:"candidate"`
	Scores    map[string]any  `json:"scores"`
}

// newEvolutionBestCmd is `swarmctl evolution best`.
func newEvolutionBestCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "best NAME",
		Short: "Print the genome of an evolution's best candidate",
		Long: `Print the genome of the evolution's best candidate (status.bestCandidate).

-o json or yaml prints {"genome": {...}, "candidate": NAME, "scores": {...}},
which the example agents (tspsolver) take as their --genome file; the default
table lists the genome's parameters.`,
		Example: `  swarmctl evolution best demo
  swarmctl evolution best tsp -o json > best.json
  tspsolver --genome best.json berlin52.tsp`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeEvolutions(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			name := args[0]
			ev, err := c.evolutions().GetEvolution(cmd.Context(), &v1.GetEvolutionRequest{Name: name})
			if err != nil {
				return fmt.Errorf("evolution %q: %w", name, err)
			}
			st := ev.GetStatus()
			if st.GetBestCandidate() == "" {
				return fmt.Errorf("evolution %s has no best candidate yet (%s, %d evaluations)", name, orNone(st.GetPhase()), st.GetEvaluations())
			}
			cand, err := c.evolutions().GetCandidate(cmd.Context(), &v1.GetCandidateRequest{Evolution: name, Name: st.GetBestCandidate()})
			if err != nil {
				return fmt.Errorf("best candidate %s of evolution %s: %w", st.GetBestCandidate(), name, err)
			}
			if o.output == outputTable {
				tw := newTable(o.out)
				writeRow(tw, "PARAMETER", "VALUE")
				for _, r := range genomeRows(cand.GetSpec().GetGenome()) {
					writeRow(tw, r...)
				}
				return tw.Flush()
			}
			raw, err := bestGenomeJSON(cand, st.GetBestScores())
			if err != nil {
				return err
			}
			return writeStructured(o.out, o.output, raw)
		},
	}
}

// bestGenomeJSON wraps a candidate's genome with its name and scores (the
// evolution's best scores when the candidate carries none).
func bestGenomeJSON(cand *v1.Candidate, fallback map[string]float64) (json.RawMessage, error) {
	genome := json.RawMessage("{}")
	if g := cand.GetSpec().GetGenome(); g != nil {
		raw, err := messageJSON(g)
		if err != nil {
			return nil, err
		}
		genome = raw
	}
	scores := cand.GetStatus().GetScores()
	if len(scores) == 0 {
		scores = fallback
	}
	out := bestGenome{Genome: genome, Candidate: cand.GetMetadata().GetName(), Scores: map[string]any{}}
	for k, v := range scores {
		switch {
		case math.IsNaN(v):
			out.Scores[k] = "NaN"
		case math.IsInf(v, 1):
			out.Scores[k] = "Infinity"
		case math.IsInf(v, -1):
			out.Scores[k] = "-Infinity"
		default:
			out.Scores[k] = v
		}
	}
	return json.Marshal(out)
}

// newEvolutionPauseCmd is `swarmctl evolution pause`.
func newEvolutionPauseCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "pause NAME",
		Short: "Pause an evolution: stop asking the strategy for candidates",
		Long: `Pause an evolution: the strategy is asked for no more candidates and the
evaluations under way finish. The archive and the strategy's state are kept;
evolution resume continues from there.`,
		Example:           `  swarmctl evolution pause demo`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeEvolutions(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.evolutionControl(cmd.Context(), args[0], "paused", func(ctx context.Context, client v1.EvolutionServiceClient) (*v1.Evolution, error) {
				return client.PauseEvolution(ctx, &v1.PauseEvolutionRequest{Name: args[0]})
			})
		},
	}
}

// newEvolutionCancelCmd is `swarmctl evolution cancel`.
func newEvolutionCancelCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel NAME",
		Short: "Cancel an evolution for good",
		Long: `Cancel an evolution: it stops and ends in phase Cancelled; it cannot be
resumed. The archive stays readable (archive, best, plot).`,
		Example:           `  swarmctl evolution cancel demo`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeEvolutions(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.evolutionControl(cmd.Context(), args[0], "cancelled", func(ctx context.Context, client v1.EvolutionServiceClient) (*v1.Evolution, error) {
				return client.CancelEvolution(ctx, &v1.CancelEvolutionRequest{Name: args[0]})
			})
		},
	}
}

// evolutionControl runs pause or cancel and prints the outcome.
func (o *options) evolutionControl(ctx context.Context, name, past string, call func(context.Context, v1.EvolutionServiceClient) (*v1.Evolution, error)) error {
	c, err := o.connect(false)
	if err != nil {
		return err
	}
	defer c.Close()
	ev, err := call(ctx, c.evolutions())
	if err != nil {
		return fmt.Errorf("evolution %q: %w", name, err)
	}
	if o.output != outputTable {
		return printMessage(o.out, o.output, ev)
	}
	fmt.Fprintf(o.out, "evolution/%s %s (phase %s)\n", name, past, orNone(ev.GetStatus().GetPhase()))
	return nil
}

// newEvolutionResumeCmd is `swarmctl evolution resume`.
func newEvolutionResumeCmd(o *options) *cobra.Command {
	var strategy, strategyConfig string
	var watch bool
	cmd := &cobra.Command{
		Use:   "resume NAME [--strategy NAME@VERSION]",
		Short: "Resume a paused evolution, optionally with another strategy version",
		Long: `Resume a paused evolution from where it stopped. --strategy replaces the
strategy (usually another version of the same plugin, e.g. after the one in
use trapped) for the rest of the run. -w follows the evolution afterwards
like evolution watch.`,
		Example: `  swarmctl evolution resume demo
  swarmctl evolution resume demo --strategy cmaes@1.0.1 -w`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeEvolutions(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			req := &v1.ResumeEvolutionRequest{Name: name}
			if strategy != "" {
				ref, err := parsePluginRef("--strategy", strategy)
				if err != nil {
					return err
				}
				req.Strategy = ref
			}
			if strategyConfig != "" {
				if req.Strategy == nil {
					return usagef("--strategy-config needs --strategy")
				}
				cfg, err := parseJSONObject("--strategy-config", strategyConfig)
				if err != nil {
					return err
				}
				req.Strategy.Config = cfg
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			op, err := c.evolutions().ResumeEvolution(cmd.Context(), req)
			if err != nil {
				return fmt.Errorf("resume evolution %q: %w", name, err)
			}
			if e := op.GetError(); e != nil {
				return fmt.Errorf("resume evolution %q: operation %s failed: %s", name, op.GetMetadata().GetName(), e.GetMessage())
			}
			if watch {
				if o.output == outputTable {
					fmt.Fprintf(o.out, "evolution/%s resumed\n", name)
				}
				return o.followEvolution(cmd.Context(), c.evolutions(), name)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, op)
			}
			with := ""
			if req.Strategy != nil {
				with = " with strategy " + pluginRef(req.Strategy)
			}
			fmt.Fprintf(o.out, "evolution/%s resumed%s (operation %s)\n", name, with, orNone(op.GetMetadata().GetName()))
			return nil
		},
	}
	cmd.Flags().StringVar(&strategy, "strategy", "", "continue with this strategy, NAME or NAME@VERSION")
	cmd.Flags().StringVar(&strategyConfig, "strategy-config", "", "configuration of --strategy, a JSON object")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the evolution after resuming it")
	_ = cmd.RegisterFlagCompletionFunc("strategy", o.completeStrategies())
	_ = cmd.RegisterFlagCompletionFunc("candidate-tier", completeTiers)
	for _, n := range []string{"candidate-memory", "candidate-cpus", "candidate-pids"} {
		_ = cmd.RegisterFlagCompletionFunc(n, cobra.NoFileCompletions)
	}
	return cmd
}
