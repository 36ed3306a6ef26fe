package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// newClusterCmd is `swarmctl cluster`.
func newClusterCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect the swarm as a whole",
		Long:  `Inspect the swarm as a whole: its version, store, nodes and the host features each node found.`,
		Example: `  swarmctl cluster status
  swarmctl cluster status -o yaml`,
		Args: cobra.NoArgs,
		RunE: showHelp,
	}
	cmd.AddCommand(newClusterStatusCmd(o))
	return cmd
}

// newClusterStatusCmd is `swarmctl cluster status`.
func newClusterStatusCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Summarise the swarm: version, store, nodes, features",
		Long: `Summarise the swarm: the server's version, the store (path, schema version,
newest revision), one line per node, the number of stored objects of each
kind, and the host features of the local node with whether each is available
and, if not, why and what falls back.`,
		Example: `  # A summary for people
  swarmctl cluster status

  # The ClusterStatus message, for scripts
  swarmctl cluster status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.cluster.GetClusterStatus(cmd.Context(), &v1.GetClusterStatusRequest{})
			if err != nil {
				return err
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, st)
			}
			return printClusterStatus(o.out, st, time.Now())
		},
	}
}

// printClusterStatus writes a ClusterStatus for people.
func printClusterStatus(w io.Writer, st *v1.ClusterStatus, now time.Time) error {
	d := newDescriber(w)
	d.field(0, "Version", versionLine(st.GetVersion()))
	s := st.GetStore()
	d.section(0, "Store")
	d.field(1, "Path", orNone(s.GetPath()))
	d.field(1, "Schema", strconv.Itoa(int(s.GetSchemaVersion())))
	d.field(1, "Revision", orNone(s.GetRevision()))
	d.field(1, "Compacted revision", orNone(s.GetCompactedRevision()))
	d.field(1, "Size", fmt.Sprintf("%s LSM, %s value log", humanBytes(s.GetLsmBytes()), humanBytes(s.GetVlogBytes())))

	d.section(0, "Nodes")
	var rows [][]string
	for _, n := range st.GetNodes() {
		rows = append(rows, []string{
			n.GetName(),
			nodeSummaryStatus(n),
			strconv.Itoa(int(n.GetCpus())),
			humanBytes(n.GetMemoryBytes()),
			heartbeat(n, now),
		})
	}
	d.table(1, []string{"NAME", "STATUS", "CPUS", "MEMORY", "HEARTBEAT"}, rows)

	d.section(0, "Resources")
	rows = nil
	for _, k := range sortedKeys(st.GetResourceCounts()) {
		rows = append(rows, []string{k, strconv.FormatInt(st.GetResourceCounts()[k], 10)})
	}
	d.table(1, []string{"KIND", "COUNT"}, rows)

	d.section(0, "Features")
	d.table(1, []string{"NAME", "AVAILABLE", "DETAIL"}, featureRows(st.GetFeatures()))
	return d.flush()
}

// featureRows lays features out as table rows.
func featureRows(fs []*v1.Feature) [][]string {
	var rows [][]string
	for _, f := range fs {
		rows = append(rows, []string{f.GetName(), yesNo(f.GetAvailable()), f.GetDetail()})
	}
	return rows
}

// nodeSummaryStatus is Ready or NotReady, plus SchedulingDisabled.
func nodeSummaryStatus(n *v1.NodeSummary) string {
	s := "NotReady"
	if n.GetReady() {
		s = "Ready"
	}
	if n.GetUnschedulable() {
		s += ",SchedulingDisabled"
	}
	return s
}

// heartbeat is the age of a node's last heartbeat.
func heartbeat(n *v1.NodeSummary, now time.Time) string {
	a := age(n.GetHeartbeatTime(), now)
	if a == "<unknown>" {
		return "<none>"
	}
	return a + " ago"
}
