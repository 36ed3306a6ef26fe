package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// nodeColumns are the columns of `node ls`.
func nodeColumns() []string {
	return []string{"NAME", "STATUS", "CPUS", "MEMORY", "KERNEL", "AGE"}
}

// newNodeCmd is `swarmctl node`.
func newNodeCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "node",
		Aliases: []string{"nodes", "no"},
		Short:   "List, describe, label and cordon nodes",
		Long: `Nodes are the hosts that run swarmd. Each node reports what it found on its
host (kernel, CPUs, memory, features) and carries labels that selectors match,
and a cordon flag that keeps new work off it.`,
		Example: `  swarmctl node ls
  swarmctl node describe host-1
  swarmctl node label host-1 zone=a
  swarmctl node cordon host-1`,
		Args: cobra.NoArgs,
		RunE: showHelp,
	}
	cmd.AddCommand(newNodeLsCmd(o), newNodeDescribeCmd(o), newNodeCordonCmd(o, true), newNodeCordonCmd(o, false), newNodeLabelCmd(o))
	return cmd
}

// completeNodes offers node names from the server.
func (o *options) completeNodes(maxArgs int) cobra.CompletionFunc {
	return o.completeNames(maxArgs, func(ctx context.Context, c *conn) ([]string, error) {
		nodes, err := listNodes(ctx, c, "", 0)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(nodes))
		for _, n := range nodes {
			names = append(names, n.GetMetadata().GetName())
		}
		return names, nil
	})
}

// listNodes reads every page of nodes (or limit of them).
func listNodes(ctx context.Context, c *conn, selector string, limit int) ([]*v1.Node, error) {
	return collectPages(limit, func(size int32, token string) ([]*v1.Node, string, error) {
		resp, err := c.nodes.ListNodes(ctx, &v1.ListNodesRequest{PageSize: size, PageToken: token, LabelSelector: selector})
		return resp.GetNodes(), resp.GetNextPageToken(), err
	})
}

// newNodeLsCmd is `swarmctl node ls`.
func newNodeLsCmd(o *options) *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:     "ls [NAME...]",
		Aliases: []string{"get", "list"},
		Short:   "List nodes",
		Long: `List nodes with their status (Ready or NotReady, and SchedulingDisabled when
cordoned), CPUs, memory, kernel and age.

With names, only those nodes are shown. -l filters by labels; -w keeps
running and prints a row, with the event that caused it, for every change.
All pages are fetched unless --limit is given.`,
		Example: `  # All nodes
  swarmctl node ls

  # Nodes labelled zone=a, as YAML
  swarmctl node ls -l zone=a -o yaml

  # Watch nodes change
  swarmctl node ls -w`,
		ValidArgsFunction: o.completeNodes(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), o, &lf, args, lsSpec[*v1.Node]{
				singular: "node", plural: "nodes", header: nodeColumns(), row: nodeRow, list: listNodes, watch: watchNodes,
				get: func(ctx context.Context, c *conn, name string) (*v1.Node, error) {
					return c.nodes.GetNode(ctx, &v1.GetNodeRequest{Name: name})
				},
			})
		},
	}
	lf.bind(cmd)
	return cmd
}

// watchNodes streams node events.
func watchNodes(ctx context.Context, o *options, c *conn, selector string) error {
	stream, err := c.nodes.WatchNodes(ctx, &v1.WatchNodesRequest{})
	if err != nil {
		return err
	}
	return runWatch(ctx, o.out, o.output, watchSpec[*v1.Node]{
		header:   nodeColumns(),
		row:      nodeRow,
		labels:   func(n *v1.Node) map[string]string { return n.GetMetadata().GetLabels() },
		selector: selector,
		recv: func() (v1.EventType, *v1.Node, error) {
			ev, err := stream.Recv()
			return ev.GetType(), ev.GetNode(), err
		},
	})
}

// nodeRow is one line of `node ls`.
func nodeRow(n *v1.Node, now time.Time) []string {
	st := n.GetStatus()
	return []string{
		n.GetMetadata().GetName(),
		nodeStatus(n, now),
		strconv.Itoa(int(st.GetCpus())),
		humanBytes(st.GetMemoryBytes()),
		orNone(st.GetKernelVersion()),
		age(n.GetMetadata().GetCreateTime(), now),
	}
}

// staleHeartbeat is how old a node's heartbeat may be before the node
// counts as NotReady whatever its Ready condition says (swarmd heartbeats
// every 30s; a stopped node cannot mark itself NotReady).
const staleHeartbeat = 90 * time.Second

// nodeStatus is Ready or NotReady (from the Ready condition and the
// heartbeat's age), plus SchedulingDisabled when cordoned.
func nodeStatus(n *v1.Node, now time.Time) string {
	s := "NotReady"
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" && c.GetStatus() == "True" {
			s = "Ready"
		}
	}
	if hb := n.GetStatus().GetHeartbeatTime(); hb != nil && now.Sub(hb.AsTime()) >= staleHeartbeat {
		s = "NotReady"
	}
	if n.GetSpec().GetUnschedulable() {
		s += ",SchedulingDisabled"
	}
	return s
}

// newNodeDescribeCmd is `swarmctl node describe`.
func newNodeDescribeCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show the details of a node",
		Long: `Show everything known about a node: metadata, labels, whether it is
cordoned, its host (OS, kernel, CPUs, memory, cgroup mode, swarmd version),
what work may use on it, its conditions and the features it probed.`,
		Example: `  swarmctl node describe host-1
  swarmctl node describe host-1 -o json`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeNodes(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			n, err := c.nodes.GetNode(cmd.Context(), &v1.GetNodeRequest{Name: args[0]})
			if err != nil {
				return err
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, n)
			}
			return describeNode(o.out, n, time.Now())
		},
	}
}

// describeNode writes a node kubectl-describe style.
func describeNode(w io.Writer, n *v1.Node, now time.Time) error {
	d := newDescriber(w)
	md, st := n.GetMetadata(), n.GetStatus()
	describeMeta(d, md, now)
	d.field(0, "Status", nodeStatus(n, now))
	d.field(0, "Unschedulable", strconv.FormatBool(n.GetSpec().GetUnschedulable()))
	d.section(0, "System")
	d.field(1, "Hostname", orNone(st.GetHostname()))
	d.field(1, "OS/Arch", orNone(strings.Trim(st.GetOs()+"/"+st.GetArch(), "/")))
	d.field(1, "Kernel", orNone(st.GetKernelVersion()))
	d.field(1, "CPUs", strconv.Itoa(int(st.GetCpus())))
	d.field(1, "Memory", humanBytes(st.GetMemoryBytes()))
	d.field(1, "Cgroup mode", orNone(st.GetCgroupMode()))
	d.field(1, "swarmd", orNone(st.GetSwarmdVersion()))
	d.field(1, "Started", timeAndAge(st.GetStartTime(), now))
	d.field(1, "Heartbeat", timeAndAge(st.GetHeartbeatTime(), now))
	d.section(0, "Allocatable")
	describeResources(d, 1, st.GetAllocatable())
	d.section(0, "Conditions")
	d.table(1, []string{"TYPE", "STATUS", "REASON", "MESSAGE", "LAST TRANSITION"}, conditionRows(st.GetConditions(), now))
	d.section(0, "Features")
	d.table(1, []string{"NAME", "AVAILABLE", "DETAIL"}, featureRows(st.GetFeatures()))
	return d.flush()
}

// describeMeta writes the metadata block every describe starts with.
func describeMeta(d *describer, md *v1.ObjectMeta, now time.Time) {
	d.field(0, "Name", md.GetName())
	d.field(0, "UID", orNone(md.GetUid()))
	d.field(0, "Resource version", orNone(md.GetResourceVersion()))
	d.field(0, "Generation", strconv.FormatInt(md.GetGeneration(), 10))
	d.list(0, "Labels", sortedPairs(md.GetLabels()))
	d.list(0, "Annotations", sortedPairs(md.GetAnnotations()))
	d.field(0, "Created", timeAndAge(md.GetCreateTime(), now))
	d.field(0, "Updated", timeAndAge(md.GetUpdateTime(), now))
}

// describeResources writes a ResourceList.
func describeResources(d *describer, indent int, r *v1.ResourceList) {
	if r == nil {
		d.field(indent, "Resources", "<none>")
		return
	}
	d.field(indent, "CPU", cpuString(r.GetCpuMillis()))
	d.field(indent, "Memory", humanBytes(r.GetMemoryBytes()))
	d.field(indent, "PIDs", strconv.FormatInt(r.GetPids(), 10))
	d.field(indent, "GPUs", strconv.Itoa(int(r.GetGpus())))
	if len(r.GetTierBytes()) > 0 {
		var tiers []string
		for _, t := range container.KnownTiers() {
			if v, ok := r.GetTierBytes()[string(t)]; ok {
				tiers = append(tiers, string(t)+"="+humanBytes(v))
			}
		}
		for _, t := range sortedKeys(r.GetTierBytes()) {
			if !container.Tier(t).Known() {
				tiers = append(tiers, t+"="+humanBytes(r.GetTierBytes()[t]))
			}
		}
		d.field(indent, "Tier quotas", strings.Join(tiers, ", "))
	}
}

// cpuString writes millicores as cores where whole: 2, 1500m.
func cpuString(m int64) string {
	if m%1000 == 0 {
		return strconv.FormatInt(m/1000, 10)
	}
	return strconv.FormatInt(m, 10) + "m"
}

// conditionRows lays conditions out as table rows.
func conditionRows(cs []*v1.Condition, now time.Time) [][]string {
	var rows [][]string
	for _, c := range cs {
		last := age(c.GetLastTransitionTime(), now)
		if last != "<unknown>" {
			last += " ago"
		}
		rows = append(rows, []string{c.GetType(), c.GetStatus(), c.GetReason(), c.GetMessage(), last})
	}
	return rows
}

// newNodeCordonCmd is `swarmctl node cordon` (cordon true) or
// `swarmctl node uncordon` (cordon false).
func newNodeCordonCmd(o *options, cordon bool) *cobra.Command {
	verb, past, short := "cordon", "cordoned", "Mark a node unschedulable"
	long := `Mark a node unschedulable: running work stays, new work is placed elsewhere.
The node's status shows SchedulingDisabled until it is uncordoned.`
	example := `  swarmctl node cordon host-1`
	if !cordon {
		verb, past, short = "uncordon", "uncordoned", "Mark a node schedulable"
		long = `Mark a node schedulable again after swarmctl node cordon.`
		example = `  swarmctl node uncordon host-1`
	}
	return &cobra.Command{
		Use:               verb + " NAME",
		Short:             short,
		Long:              long,
		Example:           example,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeNodes(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			n, changed, err := modifyNode(cmd.Context(), c, args[0], func(n *v1.Node) (bool, error) {
				if n.GetSpec().GetUnschedulable() == cordon {
					return false, nil
				}
				if n.Spec == nil {
					n.Spec = &v1.NodeSpec{}
				}
				n.Spec.Unschedulable = cordon
				return true, nil
			})
			if err != nil {
				return err
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, n)
			}
			if !changed {
				fmt.Fprintf(o.out, "node/%s already %s\n", args[0], past)
				return nil
			}
			fmt.Fprintf(o.out, "node/%s %s\n", args[0], past)
			return nil
		},
	}
}

// newNodeLabelCmd is `swarmctl node label`.
func newNodeLabelCmd(o *options) *cobra.Command {
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "label NAME KEY=VALUE... | KEY-...",
		Short: "Add, change or remove labels of a node",
		Long: `Add, change or remove labels of a node. KEY=VALUE sets a label; KEY- removes
one. Changing a label that already has a different value needs --overwrite,
as in kubectl. The change is a read-modify-write that is retried when another
writer got there first.`,
		Example: `  # Add a label
  swarmctl node label host-1 zone=a

  # Change it
  swarmctl node label host-1 zone=b --overwrite

  # Remove it
  swarmctl node label host-1 zone-`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("node label needs a NAME and at least one KEY=VALUE or KEY-")
			}
			return nil
		},
		ValidArgsFunction: o.completeNodes(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changes, err := parseLabelArgs(args[1:])
			if err != nil {
				return err
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			var warnings []string
			n, changed, err := modifyNode(cmd.Context(), c, args[0], func(n *v1.Node) (bool, error) {
				if n.Metadata == nil {
					n.Metadata = &v1.ObjectMeta{}
				}
				labels, ch, warn, err := applyLabels(n.Metadata.GetLabels(), changes, overwrite)
				warnings = warn
				n.Metadata.Labels = labels
				return ch, err
			})
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintln(o.errOut, w)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, n)
			}
			if !changed {
				fmt.Fprintf(o.out, "node/%s not labeled\n", args[0])
				return nil
			}
			fmt.Fprintf(o.out, "node/%s labeled\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "allow changing labels that already have a different value")
	return cmd
}

// labelChange is one KEY=VALUE or KEY- argument.
type labelChange struct {
	key    string
	value  string
	remove bool
}

// parseLabelArgs reads KEY=VALUE and KEY- arguments.
func parseLabelArgs(args []string) ([]labelChange, error) {
	seen := map[string]bool{}
	var out []labelChange
	for _, a := range args {
		var ch labelChange
		if k, v, ok := strings.Cut(a, "="); ok {
			ch = labelChange{key: k, value: v}
		} else if k, ok := strings.CutSuffix(a, "-"); ok {
			ch = labelChange{key: k, remove: true}
		} else {
			return nil, usagef("label %q: want KEY=VALUE to set or KEY- to remove", a)
		}
		if ch.key == "" {
			return nil, usagef("label %q: the key is empty", a)
		}
		if seen[ch.key] {
			return nil, usagef("label %q is given more than once", ch.key)
		}
		seen[ch.key] = true
		out = append(out, ch)
	}
	return out, nil
}

// applyLabels applies changes to a copy of labels. It reports whether
// anything changed and warnings for removals of absent labels; changing an
// existing value without overwrite is an error.
func applyLabels(labels map[string]string, changes []labelChange, overwrite bool) (map[string]string, bool, []string, error) {
	out := make(map[string]string, len(labels)+len(changes))
	for k, v := range labels {
		out[k] = v
	}
	changed := false
	var warnings []string
	for _, ch := range changes {
		old, exists := out[ch.key]
		switch {
		case ch.remove && !exists:
			warnings = append(warnings, fmt.Sprintf("label %q not found.", ch.key))
		case ch.remove:
			delete(out, ch.key)
			changed = true
		case exists && old == ch.value:
		case exists && !overwrite:
			return nil, false, nil, fmt.Errorf("%q already has a value (%s), and --overwrite is false", ch.key, old)
		default:
			out[ch.key] = ch.value
			changed = true
		}
	}
	return out, changed, warnings, nil
}

// modifyNode reads a node, lets mutate change it, and writes it back with
// the resource version it read, retrying when the write is ABORTED because
// another writer got there first. Unchanged nodes are not written.
func modifyNode(ctx context.Context, c *conn, name string, mutate func(*v1.Node) (bool, error)) (*v1.Node, bool, error) {
	for attempt := 1; ; attempt++ {
		n, err := c.nodes.GetNode(ctx, &v1.GetNodeRequest{Name: name})
		if err != nil {
			return nil, false, err
		}
		changed, err := mutate(n)
		if err != nil {
			return nil, false, fmt.Errorf("node/%s: %w", name, err)
		}
		if !changed {
			return n, false, nil
		}
		out, err := c.nodes.UpdateNode(ctx, &v1.UpdateNodeRequest{Node: n})
		if isCode(err, codes.Aborted) && attempt < updateAttempts {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		return out, true, nil
	}
}

// exactArgs is cobra.ExactArgs with a message that names the arguments.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs exactly %d argument(s): %s; got %d", cmd.CommandPath(), n, names, len(args))
		}
		return nil
	}
}
