package main

import (
	"context"
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

// pluginColumns are the columns of `plugin ls`.
func pluginColumns() []string {
	return []string{"NAME", "KIND", "DEFAULT", "VERSIONS", "AGE"}
}

// newPluginCmd is `swarmctl plugin`.
func newPluginCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "plugin",
		Aliases: []string{"plugins"},
		Short:   "Write, sign, upload, promote and roll back Wasm plugins",
		Long: `Plugins are WebAssembly modules that extend swarmd: search strategies, trust
scorers and personalities (sdk-wasm/ABI.md). Each named plugin has versions;
one of them is the default that references without a version use.

For authors:
  plugin init, plugin build        start a Go plugin project, compile it to Wasm
  plugin keygen, plugin sign       make a signing key, sign a module with it

For operators:
  plugin key add|ls|revoke         the public keys swarmd trusts
  plugin push                      upload a module; swarmd checks its signature,
                                   validates and benchmarks it, and records the
                                   version as Candidate or Rejected
  plugin ls|describe|rm            what is uploaded, with scores and evidence
  plugin promote|rollback          choose the default version

The guide docs/dev/extensions.md walks through all of it.`,
		Example: `  swarmctl plugin init hello --kind trust --sdk ~/src/stratoswarm/sdk-wasm
  swarmctl plugin build hello
  swarmctl plugin keygen --out me
  swarmctl plugin key add me.pub
  swarmctl plugin sign hello/hello.wasm --key me.key
  swarmctl plugin push hello/hello.wasm --manifest hello/plugin.yaml
  swarmctl plugin promote hello 0.1.0`,
		Args: cobra.NoArgs,
		RunE: showHelp,
	}
	cmd.AddCommand(
		newPluginInitCmd(o), newPluginBuildCmd(o),
		newPluginKeygenCmd(o), newPluginKeyCmd(o), newPluginSignCmd(o),
		newPluginPushCmd(o),
		newPluginLsCmd(o), newPluginDescribeCmd(o), newPluginRmCmd(o),
		newPluginPromoteCmd(o), newPluginRollbackCmd(o),
	)
	return cmd
}

// completePlugins offers plugin names from the server.
func (o *options) completePlugins(maxArgs int) cobra.CompletionFunc {
	return o.completeNames(maxArgs, func(ctx context.Context, c *conn) ([]string, error) {
		plugins, err := listPlugins(ctx, c, "", 0)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(plugins))
		for _, p := range plugins {
			names = append(names, p.GetMetadata().GetName())
		}
		return names, nil
	})
}

// completePluginVersions offers the versions of the plugin named by the
// first argument whose state keep accepts (nil: all).
func (o *options) completePluginVersions(keep func(*v1.PluginVersion) bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) != 1 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return o.completeNames(2, func(ctx context.Context, c *conn) ([]string, error) {
			p, err := c.plugins.GetPlugin(ctx, &v1.GetPluginRequest{Name: args[0]})
			if err != nil {
				return nil, err
			}
			var out []string
			for _, v := range p.GetStatus().GetVersions() {
				if keep == nil || keep(v) {
					out = append(out, v.GetVersion())
				}
			}
			return out, nil
		})(cmd, args, toComplete)
	}
}

// listPlugins reads every page of plugins (or limit of them).
func listPlugins(ctx context.Context, c *conn, selector string, limit int) ([]*v1.Plugin, error) {
	return collectPages(limit, func(size int32, token string) ([]*v1.Plugin, string, error) {
		resp, err := c.plugins.ListPlugins(ctx, &v1.ListPluginsRequest{PageSize: size, PageToken: token, LabelSelector: selector})
		return resp.GetPlugins(), resp.GetNextPageToken(), err
	})
}

// newPluginLsCmd is `swarmctl plugin ls`.
func newPluginLsCmd(o *options) *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:     "ls [NAME...]",
		Aliases: []string{"get", "list"},
		Short:   "List plugins",
		Long: `List plugins with their kind, default version (<none> until one is
promoted), number of versions and age.

With names, only those plugins are shown. -l filters by labels; -w keeps
running and prints a row, with the event that caused it, for every change (an
upload, the gates finishing, a promotion). All pages are fetched unless
--limit is given.`,
		Example: `  # All plugins
  swarmctl plugin ls

  # One plugin, as YAML with every version
  swarmctl plugin ls hello -o yaml

  # Watch uploads and promotions
  swarmctl plugin ls -w`,
		ValidArgsFunction: o.completePlugins(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), o, &lf, args, lsSpec[*v1.Plugin]{
				singular: "plugin", plural: "plugins", header: pluginColumns(), row: pluginRow, list: listPlugins, watch: watchPlugins,
				get: func(ctx context.Context, c *conn, name string) (*v1.Plugin, error) {
					return c.plugins.GetPlugin(ctx, &v1.GetPluginRequest{Name: name})
				},
			})
		},
	}
	lf.bind(cmd)
	return cmd
}

// watchPlugins streams plugin events.
func watchPlugins(ctx context.Context, o *options, c *conn, selector string) error {
	stream, err := c.plugins.WatchPlugins(ctx, &v1.WatchPluginsRequest{})
	if err != nil {
		return err
	}
	return runWatch(ctx, o.out, o.output, watchSpec[*v1.Plugin]{
		header:   pluginColumns(),
		row:      pluginRow,
		labels:   func(p *v1.Plugin) map[string]string { return p.GetMetadata().GetLabels() },
		selector: selector,
		recv: func() (v1.EventType, *v1.Plugin, error) {
			ev, err := stream.Recv()
			return ev.GetType(), ev.GetPlugin(), err
		},
	})
}

// pluginRow is one line of `plugin ls`.
func pluginRow(p *v1.Plugin, now time.Time) []string {
	return []string{
		p.GetMetadata().GetName(),
		pluginKindName(p.GetSpec().GetKind()),
		orNone(p.GetSpec().GetDefaultVersion()),
		strconv.Itoa(len(p.GetStatus().GetVersions())),
		age(p.GetMetadata().GetCreateTime(), now),
	}
}

// pluginKindName spells a kind as plugin.yaml does: strategy, trust...
func pluginKindName(k v1.PluginKind) string {
	if k == v1.PluginKind_PLUGIN_KIND_UNSPECIFIED {
		return "<none>"
	}
	return strings.ToLower(k.String())
}

// newPluginDescribeCmd is `swarmctl plugin describe`.
func newPluginDescribeCmd(o *options) *cobra.Command {
	var evidence int
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show every version of a plugin with its state, scores and evidence",
		Long: `Show everything known about a plugin: metadata, kind, default and previous
default version, then one row per version (state, the key id that signed it,
the first 12 hex digits of its sha256, size, upload time and the reason for
its state), then per version its manifest (capabilities, limits), the scores
the benchmark gate gave it and the newest evidence recorded for or against it
(traps, timeouts, benchmark results).`,
		Example: `  swarmctl plugin describe hello

  # The 20 newest pieces of evidence per version
  swarmctl plugin describe hello --evidence 20

  # The whole Plugin object
  swarmctl plugin describe hello -o json`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completePlugins(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if evidence < 0 {
				return usagef("--evidence must not be negative, got %d", evidence)
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			p, err := c.plugins.GetPlugin(cmd.Context(), &v1.GetPluginRequest{Name: args[0]})
			if err != nil {
				return err
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, p)
			}
			return describePlugin(o.out, p, evidence, time.Now())
		},
	}
	cmd.Flags().IntVar(&evidence, "evidence", 5, "how many of the newest evidence entries to show per version")
	return cmd
}

// describePlugin writes a plugin kubectl-describe style.
func describePlugin(w io.Writer, p *v1.Plugin, evidence int, now time.Time) error {
	d := newDescriber(w)
	describeMeta(d, p.GetMetadata(), now)
	d.field(0, "Kind", pluginKindName(p.GetSpec().GetKind()))
	d.field(0, "Default version", orNone(p.GetSpec().GetDefaultVersion()))
	d.field(0, "Previous default", orNone(p.GetStatus().GetPreviousDefault()))
	versions := p.GetStatus().GetVersions()
	d.section(0, "Versions")
	var rows [][]string
	for _, v := range versions {
		rows = append(rows, pluginVersionRow(v, now))
	}
	d.table(1, []string{"VERSION", "STATE", "SIGNED-BY", "SHA256", "SIZE", "UPLOADED", "REASON"}, rows)
	for _, v := range versions {
		d.section(0, "Version "+v.GetVersion())
		describePluginVersion(d, v, evidence, now)
	}
	return d.flush()
}

// pluginVersionRow is one line of the Versions table.
func pluginVersionRow(v *v1.PluginVersion, now time.Time) []string {
	signer := v.GetSignedBy()
	switch {
	case v.GetBuiltin():
		signer = "<builtin>"
	case signer == "":
		signer = "<unsigned>"
	}
	sum := v.GetSha256()
	if len(sum) > 12 {
		sum = sum[:12]
	}
	uploaded := age(v.GetUploadTime(), now)
	if uploaded != "<unknown>" {
		uploaded += " ago"
	}
	return []string{
		v.GetVersion(), orNone(v.GetState()), signer, orNone(sum), humanBytes(v.GetSizeBytes()), uploaded,
		truncate(orNone(oneLine(v.GetReason())), 60),
	}
}

// describePluginVersion writes one version's manifest, scores and newest
// evidence.
func describePluginVersion(d *describer, v *v1.PluginVersion, evidence int, now time.Time) {
	m := v.GetManifest()
	d.field(1, "State", orNone(v.GetState()))
	if v.GetReason() != "" {
		d.field(1, "Reason", oneLine(v.GetReason()))
	}
	d.field(1, "SHA256", orNone(v.GetSha256()))
	d.field(1, "ABI", strconv.Itoa(int(v.GetAbiVersion())))
	if m.GetDescription() != "" {
		d.field(1, "Description", oneLine(m.GetDescription()))
	}
	if m.GetAuthor() != "" {
		d.field(1, "Author", m.GetAuthor())
	}
	d.field(1, "Capabilities", orNone(strings.Join(m.GetCapabilities(), ", ")))
	if opt := m.GetOptionalCapabilities(); len(opt) > 0 {
		d.field(1, "Optional", strings.Join(opt, ", "))
	}
	if l := m.GetLimits(); l != nil {
		d.field(1, "Limits", fmt.Sprintf("memory %s, call timeout %dms, max output %s",
			humanBytes(l.GetMemoryBytes()), l.GetCallTimeoutMillis(), humanBytes(l.GetMaxOutputBytes())))
	}
	d.section(1, "Scores")
	d.table(2, []string{"NAME", "VALUE"}, scoreRows(v.GetScores()))
	all := v.GetEvidence()
	title := "Evidence"
	if len(all) > evidence {
		title = fmt.Sprintf("Evidence (newest %d of %d)", evidence, len(all))
		all = all[len(all)-evidence:]
	}
	d.section(1, title)
	var rows [][]string
	for _, e := range all {
		when := age(e.GetTime(), now)
		if when != "<unknown>" {
			when += " ago"
		}
		sign := "against"
		if e.GetPositive() {
			sign = "for"
		}
		rows = append(rows, []string{when, e.GetKind(), sign, truncate(oneLine(e.GetDetail()), 80)})
	}
	d.table(2, []string{"TIME", "KIND", "FOR/AGAINST", "DETAIL"}, rows)
}

// scoreRows lays scores out sorted by name.
func scoreRows(scores map[string]float64) [][]string {
	names := make([]string, 0, len(scores))
	for k := range scores {
		names = append(names, k)
	}
	sort.Strings(names)
	rows := make([][]string, 0, len(names))
	for _, k := range names {
		rows = append(rows, []string{k, strconv.FormatFloat(scores[k], 'g', 6, 64)})
	}
	return rows
}

// oneLine folds whitespace so text fits a table cell.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// findPluginVersion returns the named version of p, or nil.
func findPluginVersion(p *v1.Plugin, version string) *v1.PluginVersion {
	for _, v := range p.GetStatus().GetVersions() {
		if v.GetVersion() == version {
			return v
		}
	}
	return nil
}

// newPluginRmCmd is `swarmctl plugin rm`.
func newPluginRmCmd(o *options) *cobra.Command {
	var version string
	var ignoreNotFound bool
	cmd := &cobra.Command{
		Use:     "rm NAME [--version V]",
		Aliases: []string{"delete", "remove"},
		Short:   "Remove a plugin or one of its versions",
		Long: `Remove a plugin with all its versions, or with --version only that version.
The default version cannot be removed while other versions remain: promote
another one first. A module no version refers to any more is deleted from
swarmd's blob store.`,
		Example: `  # One version
  swarmctl plugin rm hello --version 0.1.0

  # The whole plugin
  swarmctl plugin rm hello`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completePlugins(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			name := args[0]
			p, err := c.plugins.DeletePlugin(cmd.Context(), &v1.DeletePluginRequest{Name: name, Version: version})
			if isCode(err, codes.NotFound) && ignoreNotFound {
				return nil
			}
			if err != nil {
				if version != "" {
					return fmt.Errorf("plugin %q version %s: %w", name, version, err)
				}
				return fmt.Errorf("plugin %q: %w", name, err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, p)
			}
			if version != "" {
				fmt.Fprintf(o.out, "plugin/%s version %s deleted\n", name, version)
				return nil
			}
			fmt.Fprintf(o.out, "plugin/%s deleted\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "remove only this version")
	cmd.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "treat a plugin or version that does not exist as removed")
	_ = cmd.RegisterFlagCompletionFunc("version", o.completePluginVersions(nil))
	return cmd
}

// newPluginPromoteCmd is `swarmctl plugin promote`.
func newPluginPromoteCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "promote NAME VERSION",
		Short: "Make a Candidate version the default",
		Long: `Make VERSION the default version of NAME: references to the plugin that name
no version use it from now on. VERSION must be a Candidate (it passed the
gates) or a Retired former default. The old default becomes Retired and is
remembered as the previous default, which swarmctl plugin rollback returns to.`,
		Example: `  swarmctl plugin promote hello 0.2.0`,
		Args:    exactArgs(2, "NAME VERSION"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return o.completePlugins(1)(cmd, args, toComplete)
			}
			return o.completePluginVersions(func(v *v1.PluginVersion) bool {
				return v.GetState() == "Candidate" || v.GetState() == "Retired"
			})(cmd, args, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			name, version := args[0], args[1]
			p, err := c.plugins.PromotePlugin(cmd.Context(), &v1.PromotePluginRequest{Name: name, Version: version})
			if err != nil {
				return fmt.Errorf("promote %s %s: %w", name, version, err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, p)
			}
			fmt.Fprintf(o.out, "plugin/%s promoted: default version %s%s\n", name, p.GetSpec().GetDefaultVersion(), wasVersion(p.GetStatus().GetPreviousDefault()))
			return nil
		},
	}
}

// noRollback is the error for a plugin without a previous default.
func noRollback(p *v1.Plugin) error {
	name := p.GetMetadata().GetName()
	if cur := p.GetSpec().GetDefaultVersion(); cur != "" {
		return fmt.Errorf("rollback %s: no previous default to roll back to: the default %s replaced no earlier default (or a rollback already returned to it)", name, cur)
	}
	return fmt.Errorf("rollback %s: no previous default to roll back to: no version of %s was promoted yet (swarmctl plugin promote %s VERSION)", name, name, name)
}

// wasVersion writes " (was V)" when V is set.
func wasVersion(v string) string {
	if v == "" {
		return ""
	}
	return " (was " + v + ")"
}

// newPluginRollbackCmd is `swarmctl plugin rollback`.
func newPluginRollbackCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback NAME",
		Short: "Make the previous default version the default again",
		Long: `Undo the last promotion of NAME: the previous default becomes the default
again and the version it replaces goes back to Candidate. There is one step
of history: a second rollback needs another promotion in between.`,
		Example:           `  swarmctl plugin rollback hello`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completePlugins(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			name := args[0]
			before, err := c.plugins.GetPlugin(cmd.Context(), &v1.GetPluginRequest{Name: name})
			if err != nil {
				return fmt.Errorf("rollback %s: %w", name, err)
			}
			if before.GetStatus().GetPreviousDefault() == "" {
				return noRollback(before)
			}
			p, err := c.plugins.RollbackPlugin(cmd.Context(), &v1.RollbackPluginRequest{Name: name})
			if err != nil {
				return fmt.Errorf("rollback %s: %w", name, err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, p)
			}
			fmt.Fprintf(o.out, "plugin/%s rolled back: default version %s%s\n", name, p.GetSpec().GetDefaultVersion(), wasVersion(before.GetSpec().GetDefaultVersion()))
			return nil
		},
	}
}
