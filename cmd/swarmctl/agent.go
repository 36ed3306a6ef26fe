package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// agentColumns are the columns of `agent ls`.
func agentColumns() []string {
	return []string{"NAME", "ROLE", "IMAGE/COMMAND", "PHASE", "AGE"}
}

// createAttempts bounds retries of a create that failed in transit; the
// request id makes them safe.
const createAttempts = 3

// newAgentCmd is `swarmctl agent`.
func newAgentCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "agent",
		Aliases: []string{"agents"},
		Short:   "Register, list, describe and remove agents",
		Long: `Agents are workloads that do work and can be improved: a template (an image
or a command, resources, a search space, a genome, a personality) whose
versions form a lineage.`,
		Example: `  swarmctl agent create -f solver.yaml
  swarmctl agent ls
  swarmctl agent describe solver
  swarmctl agent rm solver`,
		Args: cobra.NoArgs,
		RunE: showHelp,
	}
	cmd.AddCommand(newAgentCreateCmd(o), newAgentLsCmd(o), newAgentDescribeCmd(o), newAgentLogsCmd(o), newAgentRmCmd(o))
	cmd.AddCommand(newAgentTelemetryCmds(o)...) // agenttelemetry.go: top, events, push-metrics
	return cmd
}

// completeAgents offers agent names from the server.
func (o *options) completeAgents(maxArgs int) cobra.CompletionFunc {
	return o.completeNames(maxArgs, func(ctx context.Context, c *conn) ([]string, error) {
		agents, err := listAgents(ctx, c, "", 0)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(agents))
		for _, a := range agents {
			names = append(names, a.GetMetadata().GetName())
		}
		return names, nil
	})
}

// listAgents reads every page of agents (or limit of them).
func listAgents(ctx context.Context, c *conn, selector string, limit int) ([]*v1.Agent, error) {
	return collectPages(limit, func(size int32, token string) ([]*v1.Agent, string, error) {
		resp, err := c.agents.ListAgents(ctx, &v1.ListAgentsRequest{PageSize: size, PageToken: token, LabelSelector: selector})
		return resp.GetAgents(), resp.GetNextPageToken(), err
	})
}

// newAgentCreateCmd is `swarmctl agent create`.
func newAgentCreateCmd(o *options) *cobra.Command {
	var file, requestID string
	cmd := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Register agents from a YAML or JSON file",
		Long: `Register the agents described in FILE, YAML or JSON, "-" for standard input.
Each document is an Agent: metadata (name, labels, annotations) and spec
(role, image or command, env, resources, searchSpace, genome, personality,
replicas). Field names are lowerCamel or snake_case, as in the JSON API.
Unknown fields are errors that name them. Several agents may be given as YAML
documents separated by ---.

Create is idempotent: creating an agent again with the same name and spec, or
with the same --request-id, returns the stored agent ("unchanged"); the same
name with a different spec is ALREADY_EXISTS. Without --request-id a random
one is made, so that swarmctl's own retries after a lost connection are safe.`,
		Example: `  # Register an agent
  swarmctl agent create -f solver.yaml

  # From standard input
  cat <<EOF | swarmctl agent create -f -
  metadata:
    name: solver
    labels: {team: research}
  spec:
    role: solver
    image: ghcr.io/example/solver:1.0
    resources: {cpuMillis: 2000, memoryBytes: 1073741824}
  EOF

  # Safe to repeat in scripts
  swarmctl agent create -f solver.yaml --request-id deploy-42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usagef("agent create needs -f FILE (or -f - for standard input)")
			}
			data, err := o.readManifest(file)
			if err != nil {
				return err
			}
			docs := splitDocuments(data)
			if len(docs) == 0 {
				return fmt.Errorf("%s: no agent in it", manifestName(file))
			}
			agents := make([]*v1.Agent, 0, len(docs))
			for i, doc := range docs {
				a := &v1.Agent{}
				if err := decodeStrict(doc, a); err != nil {
					where := manifestName(file)
					if len(docs) > 1 {
						where = fmt.Sprintf("%s: document %d", where, i+1)
					}
					return fmt.Errorf("%s: %w", where, err)
				}
				agents = append(agents, a)
			}
			if requestID == "" {
				requestID = randomID()
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			var created []*v1.Agent
			for i, a := range agents {
				id := requestID
				if len(agents) > 1 {
					id = fmt.Sprintf("%s-%d", requestID, i)
				}
				out, isNew, err := createAgent(cmd.Context(), c, a, id)
				if err != nil {
					return fmt.Errorf("agent %q: %w", a.GetMetadata().GetName(), err)
				}
				created = append(created, out)
				if o.output == outputTable {
					verb := "created"
					if !isNew {
						verb = "unchanged"
					}
					fmt.Fprintf(o.out, "agent/%s %s\n", out.GetMetadata().GetName(), verb)
				}
			}
			switch {
			case o.output == outputTable:
				return nil
			case len(created) == 1:
				return printMessage(o.out, o.output, created[0])
			default:
				return printList(o.out, o.output, created)
			}
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", `YAML or JSON file with the agent, "-" for standard input`)
	cmd.Flags().StringVar(&requestID, "request-id", "", "idempotency key: a repeated create with it returns the first result (default: random)")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	return cmd
}

// createAgent creates a, retrying with the same request id when the call
// failed in transit. isNew is false when the agent was already there.
func createAgent(ctx context.Context, c *conn, a *v1.Agent, requestID string) (out *v1.Agent, isNew bool, err error) {
	name := a.GetMetadata().GetName()
	var prior *v1.Agent
	if name != "" {
		prior, err = c.agents.GetAgent(ctx, &v1.GetAgentRequest{Name: name})
		if err != nil && !isCode(err, codes.NotFound) && !isCode(err, codes.InvalidArgument) {
			return nil, false, err
		}
	}
	for attempt := 1; ; attempt++ {
		out, err = c.agents.CreateAgent(ctx, &v1.CreateAgentRequest{Agent: a, RequestId: requestID})
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

// randomID makes a request id.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "swarmctl-" + hex.EncodeToString(b[:])
}

// newAgentLsCmd is `swarmctl agent ls`.
func newAgentLsCmd(o *options) *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:     "ls [NAME...]",
		Aliases: []string{"get", "list"},
		Short:   "List agents",
		Long: `List agents with their role, image (or command), phase and age.

With names, only those agents are shown. -l filters by labels; -w keeps
running and prints a row, with the event that caused it, for every change.
All pages are fetched unless --limit is given.`,
		Example: `  # All agents
  swarmctl agent ls

  # Agents of one team, as JSON
  swarmctl agent ls -l team=research -o json

  # Watch agents change
  swarmctl agent ls -w`,
		ValidArgsFunction: o.completeAgents(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), o, &lf, args, lsSpec[*v1.Agent]{
				singular: "agent", plural: "agents", header: agentColumns(), row: agentRow, list: listAgents, watch: watchAgents,
				get: func(ctx context.Context, c *conn, name string) (*v1.Agent, error) {
					return c.agents.GetAgent(ctx, &v1.GetAgentRequest{Name: name})
				},
			})
		},
	}
	lf.bind(cmd)
	return cmd
}

// watchAgents streams agent events.
func watchAgents(ctx context.Context, o *options, c *conn, selector string) error {
	stream, err := c.agents.WatchAgents(ctx, &v1.WatchAgentsRequest{})
	if err != nil {
		return err
	}
	return runWatch(ctx, o.out, o.output, watchSpec[*v1.Agent]{
		header:   agentColumns(),
		row:      agentRow,
		labels:   func(a *v1.Agent) map[string]string { return a.GetMetadata().GetLabels() },
		selector: selector,
		recv: func() (v1.EventType, *v1.Agent, error) {
			ev, err := stream.Recv()
			return ev.GetType(), ev.GetAgent(), err
		},
	})
}

// agentRow is one line of `agent ls`.
func agentRow(a *v1.Agent, now time.Time) []string {
	return []string{
		a.GetMetadata().GetName(),
		orNone(a.GetSpec().GetRole()),
		truncate(imageOrCommand(a.GetSpec()), 48),
		orNone(a.GetStatus().GetPhase()),
		age(a.GetMetadata().GetCreateTime(), now),
	}
}

// imageOrCommand is the image, else the command line.
func imageOrCommand(s *v1.AgentSpec) string {
	if s.GetImage() != "" {
		return s.GetImage()
	}
	if len(s.GetCommand()) > 0 {
		return strings.Join(s.GetCommand(), " ")
	}
	return "<none>"
}

// newAgentDescribeCmd is `swarmctl agent describe`.
func newAgentDescribeCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show the details of an agent",
		Long: `Show everything known about an agent: metadata, its template (role, image or
command, env, resources, personality, search space, genome) and its status
(phase, live version, lineage, trust, identity, conditions).`,
		Example: `  swarmctl agent describe solver
  swarmctl agent describe solver -o yaml`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeAgents(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			a, err := c.agents.GetAgent(cmd.Context(), &v1.GetAgentRequest{Name: args[0]})
			if err != nil {
				return err
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, a)
			}
			return describeAgent(o.out, a, time.Now())
		},
	}
}

// describeAgent writes an agent kubectl-describe style.
func describeAgent(w io.Writer, a *v1.Agent, now time.Time) error {
	d := newDescriber(w)
	describeMeta(d, a.GetMetadata(), now)
	s := a.GetSpec()
	d.section(0, "Spec")
	d.field(1, "Role", orNone(s.GetRole()))
	d.field(1, "Image", orNone(s.GetImage()))
	d.field(1, "Command", orNone(strings.Join(s.GetCommand(), " ")))
	d.field(1, "Replicas", strconv.Itoa(int(s.GetReplicas())))
	d.list(1, "Env", sortedPairs(s.GetEnv()))
	d.section(1, "Resources")
	describeResources(d, 2, s.GetResources())
	if p := s.GetPersonality(); p != nil {
		d.field(1, "Personality", pluginRef(p))
	} else {
		d.field(1, "Personality", "<none>")
	}
	d.section(1, "Search space")
	var rows [][]string
	for _, p := range s.GetSearchSpace().GetParameters() {
		typ, rng := parameterType(p)
		rows = append(rows, []string{p.GetName(), typ, rng, p.GetDescription()})
	}
	d.table(2, []string{"NAME", "TYPE", "DOMAIN", "DESCRIPTION"}, rows)
	genome := "<none>"
	if g := s.GetGenome(); g != nil {
		raw, err := messageJSON(g)
		if err != nil {
			return err
		}
		genome = string(raw)
	}
	d.field(1, "Genome", genome)

	st := a.GetStatus()
	d.section(0, "Status")
	d.field(1, "Phase", orNone(st.GetPhase()))
	d.field(1, "Version", orNone(st.GetVersion()))
	if st.GetAddress() != "" {
		d.field(1, "Address", st.GetAddress())
	}
	d.field(1, "Ready replicas", fmt.Sprintf("%d/%d", st.GetReadyReplicas(), s.GetReplicas()))
	d.field(1, "Identity", orNone(st.GetIdentity()))
	if st.GetCertificateSerial() != "" {
		d.field(1, "Certificate", fmt.Sprintf("serial %s, valid until %s", st.GetCertificateSerial(),
			st.GetCertificateNotAfter().AsTime().UTC().Format(time.RFC3339)))
	}
	if t := st.GetTrust(); t != nil {
		d.field(1, "Trust", fmt.Sprintf("%.3f ± %.3f (lower bound %.3f, %d pieces of evidence, scorer %s)",
			t.GetScore(), t.GetUncertainty(), t.GetLowerBound(), t.GetEvidenceCount(), pluginRef(t.GetScorer())))
	} else {
		d.field(1, "Trust", "<none>")
	}
	if l := st.GetLineage(); l != nil {
		d.field(1, "Lineage", fmt.Sprintf("parent %s, evolution %s, generation %d, candidate %s",
			orNone(l.GetParentVersion()), orNone(l.GetEvolution()), l.GetGeneration(), orNone(l.GetCandidate())))
	} else {
		d.field(1, "Lineage", "<none>")
	}
	d.section(1, "Conditions")
	d.table(2, []string{"TYPE", "STATUS", "REASON", "MESSAGE", "LAST TRANSITION"}, conditionRows(st.GetConditions(), now))
	return d.flush()
}

// pluginRef writes name@version.
func pluginRef(p *v1.PluginRef) string {
	if p.GetName() == "" {
		return "<none>"
	}
	if p.GetVersion() == "" {
		return p.GetName()
	}
	return p.GetName() + "@" + p.GetVersion()
}

// parameterType names a parameter's type and domain. It reads the oneof
// through its getters, which do not depend on the generated wrapper names.
func parameterType(p *v1.Parameter) (typ, domain string) {
	switch {
	case p.GetFloat() != nil:
		f := p.GetFloat()
		d := fmt.Sprintf("[%g, %g]", f.GetMin(), f.GetMax())
		if f.GetLog() {
			d += " log"
		}
		return "float", d
	case p.GetInt() != nil:
		return "int", fmt.Sprintf("[%d, %d]", p.GetInt().GetMin(), p.GetInt().GetMax())
	case p.GetCategorical() != nil:
		return "categorical", strings.Join(p.GetCategorical().GetChoices(), " | ")
	case p.GetBool() != nil:
		return "bool", "true | false"
	case p.GetSequence() != nil:
		q := p.GetSequence()
		return "sequence", fmt.Sprintf("%s, length %d-%d", strings.Join(q.GetChoices(), " | "), q.GetMinLength(), q.GetMaxLength())
	case p.GetText() != nil:
		return "text", fmt.Sprintf("up to %d characters", p.GetText().GetMaxLength())
	case p.GetCode() != nil:
		return "code", fmt.Sprintf("%s, up to %d characters", orNone(p.GetCode().GetLanguage()), p.GetCode().GetMaxLength())
	}
	return "<none>", ""
}

// newAgentRmCmd is `swarmctl agent rm`.
func newAgentRmCmd(o *options) *cobra.Command {
	var ignoreNotFound bool
	cmd := &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"delete", "remove"},
		Short:   "Remove agents",
		Long: `Remove the named agents. Every name is tried; the command fails if any
removal failed, and names each failure. With --ignore-not-found, agents that
do not exist are not failures.`,
		Example: `  swarmctl agent rm solver
  swarmctl agent rm solver planner --ignore-not-found`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("agent rm needs at least one NAME")
			}
			return nil
		},
		ValidArgsFunction: o.completeAgents(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			var deleted []*v1.Agent
			var errs []error
			seen := map[string]bool{}
			for _, name := range args {
				if seen[name] {
					continue
				}
				seen[name] = true
				a, err := c.agents.DeleteAgent(cmd.Context(), &v1.DeleteAgentRequest{Name: name})
				if isCode(err, codes.NotFound) && ignoreNotFound {
					continue
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("agent %q: %w", name, err))
					continue
				}
				deleted = append(deleted, a)
				if o.output == outputTable {
					fmt.Fprintf(o.out, "agent/%s deleted\n", name)
				}
			}
			if o.output != outputTable {
				if err := printList(o.out, o.output, deleted); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "treat agents that do not exist as removed")
	return cmd
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// newAgentLogsCmd is `swarmctl agent logs`.
func newAgentLogsCmd(o *options) *cobra.Command {
	var (
		follow  bool
		tail    int64
		replica int32
		version string
	)
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print what one of an agent's replicas wrote",
		Long: `Print the output of one replica of an agent (stdout and stderr together): replica 0
of the live version unless --replica and --version say otherwise. With -f, keep printing
new output until the replica ends or swarmctl is interrupted.`,
		Example: `  swarmctl agent logs tspsolver
  swarmctl agent logs tspsolver --replica 1 -f --tail 20
  swarmctl agent logs tspsolver --version v2-baseline`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeAgents(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tail < 0 {
				return usagef("--tail must not be negative, got %d", tail)
			}
			if replica < 0 {
				return usagef("--replica must not be negative, got %d", replica)
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			stream, err := c.agents.AgentLogs(ctx, &v1.AgentLogsRequest{Name: args[0], Version: version, Replica: replica, Follow: follow, TailLines: tail})
			if err == nil {
				for {
					resp, rerr := stream.Recv()
					if errors.Is(rerr, io.EOF) {
						break
					}
					if rerr != nil {
						err = rerr
						break
					}
					if _, werr := o.out.Write(resp.GetData()); werr != nil {
						return werr
					}
				}
			}
			if err != nil && (ctx.Err() != nil || isCode(err, codes.Canceled)) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("agent %q: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until the replica ends")
	cmd.Flags().Int64Var(&tail, "tail", 0, "print only the last N lines (0: the whole log)")
	cmd.Flags().Int32Var(&replica, "replica", 0, "the replica's index within its version")
	cmd.Flags().StringVar(&version, "version", "", "the agent version (default: the live one)")
	for _, f := range []string{"tail", "replica", "version"} {
		_ = cmd.RegisterFlagCompletionFunc(f, cobra.NoFileCompletions)
	}
	return cmd
}
