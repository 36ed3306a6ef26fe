package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/quantity"
	"github.com/stratoswarm/stratoswarm/runtime/container"
)

// containerPollInterval is how often `container run` reads the container
// again while waiting for it to exit after its log ended.
var containerPollInterval = 200 * time.Millisecond

// Container phases that end a container's life.
const (
	containerExited = "Exited"
	containerFailed = "Failed"
)

// containers is the ContainerService client of c.
func (c *conn) containers() v1.ContainerServiceClient { return v1.NewContainerServiceClient(c.cc) }

// containerColumns are the columns of `container ls`.
func containerColumns() []string {
	return []string{"NAME", "IMAGE", "RUNTIME", "PHASE", "EXIT", "PID", "AGE"}
}

// exitCodeError ends swarmctl with a container's exit code and no message.
type exitCodeError struct{ code int }

// Error returns the exit code as text.
func (e exitCodeError) Error() string { return fmt.Sprintf("exit code %d", e.code) }

// newContainerCmd is `swarmctl container`.
func newContainerCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "container",
		Aliases: []string{"containers"},
		Short:   "Run, list, inspect and stop containers",
		Long: `A container is an isolated process tree on a node: an image, a command, an
environment, bind mounts and limits on memory, CPU and processes. The
native runtime (swarmd's own isolation, no daemon; the default) runs the
empty image scratch, OCI image layouts given by absolute path, and images
imported that way before; the containerd runtime runs images imported into
containerd.

  container run                 create and start one, and by default wait for it
  container ls|inspect|logs     follow them
  container stop|rm             end them`,
		Example: `  swarmctl container run hello /srv/images/busybox -- echo hello
  swarmctl container run web nginx:latest --runtime containerd --memory 256Mi --cpus 0.5 -d
  swarmctl container ls
  swarmctl container logs web -f
  swarmctl container stop web && swarmctl container rm web`,
		Args: cobra.NoArgs,
		RunE: showHelp,
	}
	cmd.AddCommand(
		newContainerRunCmd(o), newContainerLsCmd(o), newContainerInspectCmd(o),
		newContainerLogsCmd(o), newContainerStopCmd(o), newContainerRmCmd(o),
	)
	return cmd
}

// completeContainers offers container names from the server.
func (o *options) completeContainers(maxArgs int) cobra.CompletionFunc {
	return o.completeNames(maxArgs, func(ctx context.Context, c *conn) ([]string, error) {
		cs, err := listContainers(ctx, c, "", 0)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(cs))
		for _, ct := range cs {
			names = append(names, ct.GetMetadata().GetName())
		}
		return names, nil
	})
}

// listContainers reads every page of containers (or limit of them).
func listContainers(ctx context.Context, c *conn, selector string, limit int) ([]*v1.Container, error) {
	return collectPages(limit, func(size int32, token string) ([]*v1.Container, string, error) {
		resp, err := c.containers().ListContainers(ctx, &v1.ListContainersRequest{PageSize: size, PageToken: token, LabelSelector: selector})
		return resp.GetContainers(), resp.GetNextPageToken(), err
	})
}

// containerRunFlags are the flags of `container run`.
type containerRunFlags struct {
	env       []string
	volumes   []string
	memory    string
	tiers     []string
	cpus      string
	pids      int64
	runtime   string
	gpus      int32
	hostname  string
	detach    bool
	requestID string
}

// bind declares the flags on cmd.
func (f *containerRunFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.env, "env", "e", nil, "environment variable KEY=VALUE (repeatable)")
	fl.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount SRC:DST[:ro|:rw], both absolute paths (repeatable)")
	fl.StringVar(&f.memory, "memory", "", "memory limit: bytes or with a unit, 64Mi, 1Gi, 500M (default: none)")
	fl.StringArrayVar(&f.tiers, "tier", nil, "memory tier quota TIER=QUANTITY, e.g. cpu=512Mi or nvme=10Gi (repeatable; tiers "+tierList()+"; cpu is the memory limit, the others are stored for the tier manager)")
	fl.StringVar(&f.cpus, "cpus", "", "CPU limit in cores, 0.5 for half a core (default: none)")
	fl.Int64Var(&f.pids, "pids", 0, "most processes and threads (0: no limit)")
	fl.StringVar(&f.runtime, "runtime", "", "runtime: native or containerd (default: swarmd's container-runtime, native unless set)")
	fl.Int32Var(&f.gpus, "gpus", 0, "number of whole GPUs")
	fl.StringVar(&f.hostname, "hostname", "", "hostname inside the container (default: the runtime's)")
	fl.BoolVarP(&f.detach, "detach", "d", false, "return once the container started instead of waiting for it to exit")
	fl.StringVar(&f.requestID, "request-id", "", "idempotency key: a repeated run with it returns the first result (default: random)")
	_ = cmd.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions([]string{"native", "containerd"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("tier", completeTiers)
	for _, n := range []string{"env", "memory", "cpus", "pids", "gpus", "hostname", "request-id"} {
		_ = cmd.RegisterFlagCompletionFunc(n, cobra.NoFileCompletions)
	}
}

// container builds the Container that `container run` creates from its
// arguments and flags. Bad values are usage errors naming the flag.
func (f *containerRunFlags) container(name, image string, command []string) (*v1.Container, error) {
	if !evolutionName.MatchString(name) {
		return nil, usagef("container name %q must be 1-63 lowercase letters, digits or '-', start with a letter and end with a letter or digit", name)
	}
	if strings.TrimSpace(image) == "" {
		return nil, usagef("IMAGE must not be empty")
	}
	spec := &v1.ContainerSpec{Image: image, Command: command, Hostname: f.hostname}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return nil, usagef("-e/--env %q: want KEY=VALUE with a non-empty KEY", kv)
		}
		if spec.Env == nil {
			spec.Env = map[string]string{}
		}
		spec.Env[k] = v
	}
	for _, vol := range f.volumes {
		m, err := parseMount(vol)
		if err != nil {
			return nil, err
		}
		spec.Mounts = append(spec.Mounts, m)
	}
	switch f.runtime {
	case "", "native", "containerd":
		spec.Runtime = f.runtime
	default:
		return nil, usagef("--runtime %q: want native or containerd (or leave it out for swarmd's default)", f.runtime)
	}
	if f.hostname != "" && !evolutionName.MatchString(f.hostname) {
		return nil, usagef("--hostname %q must be 1-63 lowercase letters, digits or '-', start with a letter and end with a letter or digit", f.hostname)
	}
	r := &v1.ResourceList{Pids: f.pids, Gpus: f.gpus}
	if f.memory != "" {
		n, err := quantity.ParseBytes(f.memory)
		if err != nil {
			return nil, usagef("--memory %q: %v", f.memory, err)
		}
		r.MemoryBytes = n
	}
	tiers, err := parseTiers("--tier", f.tiers)
	if err != nil {
		return nil, err
	}
	if q, ok := tiers[string(container.TierCPU)]; ok && r.MemoryBytes != 0 && q != r.MemoryBytes {
		return nil, usagef("--memory %s and --tier cpu=%s conflict: both set the memory limit; give one of them", f.memory, humanBytes(q))
	}
	r.TierBytes = tiers
	if f.cpus != "" {
		m, err := parseCPUs(f.cpus)
		if err != nil {
			return nil, usagef("--cpus %q: %v", f.cpus, err)
		}
		r.CpuMillis = m
	}
	if f.pids < 0 {
		return nil, usagef("--pids must not be negative, got %d", f.pids)
	}
	if f.gpus < 0 {
		return nil, usagef("--gpus must not be negative, got %d", f.gpus)
	}
	if r.MemoryBytes != 0 || r.CpuMillis != 0 || r.Pids != 0 || r.Gpus != 0 || len(r.TierBytes) > 0 {
		spec.Resources = r
	}
	return &v1.Container{Metadata: &v1.ObjectMeta{Name: name}, Spec: spec}, nil
}

// parseMount reads -v SRC:DST[:ro|:rw].
func parseMount(s string) (*v1.Mount, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, usagef("-v/--volume %q: want SRC:DST or SRC:DST:ro", s)
	}
	m := &v1.Mount{Source: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			m.ReadOnly = true
		case "rw":
		default:
			return nil, usagef("-v/--volume %q: mode %q is not ro or rw", s, parts[2])
		}
	}
	if !filepath.IsAbs(m.Source) {
		return nil, usagef("-v/--volume %q: source %q must be an absolute host path", s, m.Source)
	}
	if !filepath.IsAbs(m.Target) {
		return nil, usagef("-v/--volume %q: target %q must be an absolute path in the container", s, m.Target)
	}
	return m, nil
}

// tierList is the tier names for help and errors: "gpu, cpu, nvme, ssd, hdd".
func tierList() string {
	var names []string
	for _, t := range container.KnownTiers() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// parseTiers reads repeated TIER=QUANTITY values of flag into tier_bytes
// (nil when there are none).
func parseTiers(flag string, values []string) (map[string]int64, error) {
	var out map[string]int64
	for _, v := range values {
		name, qty, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, usagef("%s %q: want TIER=QUANTITY, e.g. cpu=512Mi (tiers %s)", flag, v, tierList())
		}
		if !container.Tier(name).Known() {
			return nil, usagef("%s %q: unknown tier %q; the tiers are %s", flag, v, name, tierList())
		}
		n, err := quantity.ParseBytes(qty)
		if err != nil {
			return nil, usagef("%s %q: %v", flag, v, err)
		}
		if _, dup := out[name]; dup {
			return nil, usagef("%s %q: tier %s is given twice", flag, v, name)
		}
		if out == nil {
			out = map[string]int64{}
		}
		out[name] = n
	}
	return out, nil
}

// completeTiers offers "TIER=" for each tier; the quantity is the user's.
func completeTiers(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, "=") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, t := range container.KnownTiers() {
		out = append(out, string(t)+"=")
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// parseCPUs reads --cpus, cores as a decimal, into thousandths of a core.
func parseCPUs(s string) (int64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("want a number of cores, such as 0.5 or 2")
	}
	if v <= 0 {
		return 0, errors.New("must be positive")
	}
	if v > 1e6 {
		return 0, errors.New("is too large")
	}
	m := int64(math.Round(v * 1000))
	if m < 10 {
		return 0, errors.New("is below the smallest CPU quota, 0.01 cores")
	}
	return m, nil
}

// newContainerRunCmd is `swarmctl container run`.
func newContainerRunCmd(o *options) *cobra.Command {
	var f containerRunFlags
	cmd := &cobra.Command{
		Use:   "run NAME IMAGE [-- COMMAND [ARG...]]",
		Short: "Create and start a container, and wait for it to exit",
		Long: `Create and start a container named NAME from IMAGE, running COMMAND (after
--) or the image's default command.

--runtime picks native or containerd; without it swarmd's container-runtime
setting decides (native unless set), and the container keeps the runtime it
got. For native, IMAGE is scratch (an empty root, for a static program
bind-mounted with -v), the absolute path of an OCI image layout directory or
tar (make image builds out/images/busybox), or the reference such an image
was imported under on first use (stratoswarm.local/busybox:test). For
containerd, IMAGE is an image imported into containerd. Native containers
live with swarmd: in local mode they end when swarmctl does.

Without -d, swarmctl streams the container's output while it runs and exits
with the container's exit code; a container killed for running out of memory
is reported on stderr. Interrupting swarmctl does not stop the container:
follow it again with swarmctl container logs -f NAME. With -o json or yaml,
the output goes to stderr and the final Container to stdout.

With -d, swarmctl returns once the container started.

--memory takes bytes or a unit: Ki, Mi, Gi, Ti (binary) or K, M, G, T
(decimal). --cpus is cores, 0.5 for half a core. --gpus is sent as is; the
server says whether it can give GPUs to containers.

--tier TIER=QUANTITY sets a memory tier quota (tiers gpu, cpu, nvme, ssd,
hdd; the quantity as for --memory), once per tier. The cpu tier is main
memory: its quota is the container's memory limit, so --memory and
--tier cpu= with different values are refused. The other quotas are stored
with the container and enforced once the tier manager exists.`,
		Example: `  swarmctl container run hello $PWD/out/images/busybox -- echo hello
  swarmctl container run again stratoswarm.local/busybox:test -- sh -c 'exit 3'
  swarmctl container run solo scratch -v /usr/local/bin/solver:/solver:ro -- /solver
  swarmctl container run job alpine --runtime containerd -e MODE=fast -v /data:/data:ro --memory 64Mi --cpus 0.5 -- sh -c 'ls /data'
  swarmctl container run web nginx:latest --runtime containerd --pids 256 -d
  swarmctl container run train pytorch:local --runtime containerd --tier cpu=512Mi --tier nvme=10Gi -d`,
		ValidArgsFunction: cobra.NoFileCompletions,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			switch {
			case dash >= 0 && dash != 2:
				return usagef("%s needs NAME and IMAGE before --; got %d argument(s) before it", cmd.CommandPath(), dash)
			case dash < 0 && len(args) > 2:
				return usagef("%s: put the command after --, as in: swarmctl container run NAME IMAGE -- %s", cmd.CommandPath(), strings.Join(args[2:], " "))
			case dash < 0 && len(args) != 2:
				return usagef("%s needs exactly 2 arguments: NAME IMAGE; got %d", cmd.CommandPath(), len(args))
			case dash == 2 && len(args) == 2:
				return usagef("%s: -- must be followed by a command", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ct, err := f.container(args[0], args[1], args[2:])
			if err != nil {
				return err
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			id := f.requestID
			if id == "" {
				id = randomID()
			}
			created, err := c.containers().CreateContainer(ctx, &v1.CreateContainerRequest{Container: ct, RequestId: id})
			if err != nil {
				return fmt.Errorf("container %q: %w", ct.GetMetadata().GetName(), err)
			}
			for _, w := range created.GetStatus().GetWarnings() {
				fmt.Fprintf(o.errOut, "Warning: container %s: %s\n", created.GetMetadata().GetName(), w)
			}
			if f.detach {
				if o.output != outputTable {
					return printMessage(o.out, o.output, created)
				}
				fmt.Fprintf(o.out, "container/%s created\n", created.GetMetadata().GetName())
				return nil
			}
			return o.waitContainer(ctx, c.containers(), created)
		},
	}
	f.bind(cmd)
	return cmd
}

// waitContainer streams a container's output until it exits and returns
// an exitCodeError with its exit code unless that is 0.
func (o *options) waitContainer(ctx context.Context, client v1.ContainerServiceClient, ct *v1.Container) error {
	name := ct.GetMetadata().GetName()
	stdout, stderr := o.out, o.errOut
	if o.output != outputTable {
		stdout = o.errOut
	}
	if err := copyContainerLogs(ctx, client, &v1.ContainerLogsRequest{Name: name, Follow: true}, stdout, stderr); err != nil {
		if ctx.Err() != nil {
			return o.stoppedFollowing(name)
		}
		fmt.Fprintf(o.errOut, "warning: logs of container %s: %s\n", name, describeError(err))
	}
	last := ct
	for !terminalPhase(last.GetStatus().GetPhase()) {
		got, err := client.GetContainer(ctx, &v1.GetContainerRequest{Name: name})
		if err != nil {
			if ctx.Err() != nil {
				return o.stoppedFollowing(name)
			}
			return fmt.Errorf("container %q: %w", name, err)
		}
		last = got
		if terminalPhase(last.GetStatus().GetPhase()) {
			break
		}
		select {
		case <-time.After(containerPollInterval):
		case <-ctx.Done():
			return o.stoppedFollowing(name)
		}
	}
	if o.output != outputTable {
		if err := printMessage(o.out, o.output, last); err != nil {
			return err
		}
	}
	return containerOutcome(o.errOut, last)
}

// stoppedFollowing is the error of an interrupted `container run`.
func (o *options) stoppedFollowing(name string) error {
	return fmt.Errorf("stopped following container %s; it goes on unless swarmctl runs it in local mode: swarmctl container logs -f %s, swarmctl container stop %s", name, name, name)
}

// terminalPhase reports whether a container in phase has ended.
func terminalPhase(phase string) bool { return phase == containerExited || phase == containerFailed }

// containerOutcome writes to w why an ended container failed, if it did,
// and returns its exit code as an exitCodeError (nil for 0).
func containerOutcome(w io.Writer, ct *v1.Container) error {
	st := ct.GetStatus()
	name := ct.GetMetadata().GetName()
	code := int(st.GetExitCode())
	if st.GetOomKilled() {
		limit, raise := "its memory limit", "--memory"
		r := ct.GetSpec().GetResources()
		if q := r.GetTierBytes()[string(container.TierCPU)]; q > 0 {
			limit, raise = "its cpu tier quota ("+humanBytes(q)+")", "--tier cpu="
		} else if m := r.GetMemoryBytes(); m > 0 {
			limit += " (" + humanBytes(m) + ")"
		}
		fmt.Fprintf(w, "container %s was OOM-killed: it ran out of %s; raise %s\n", name, limit, raise)
	} else if st.GetPhase() == containerFailed {
		reason := st.GetReason()
		if reason == "" {
			reason = fmt.Sprintf("exited with code %d", st.GetExitCode())
		}
		fmt.Fprintf(w, "container %s failed: %s\n", name, reason)
	}
	if code == 0 && (st.GetOomKilled() || st.GetPhase() == containerFailed) {
		code = 1
	}
	if code != 0 {
		return exitCodeError{code: code}
	}
	return nil
}

// copyContainerLogs copies a container's log stream to stdout and stderr
// until it ends.
func copyContainerLogs(ctx context.Context, client v1.ContainerServiceClient, req *v1.ContainerLogsRequest, stdout, stderr io.Writer) error {
	stream, err := client.ContainerLogs(ctx, req)
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		w := stdout
		if resp.GetStream() == "stderr" {
			w = stderr
		}
		if _, err := w.Write(resp.GetData()); err != nil {
			return err
		}
	}
}

// newContainerLsCmd is `swarmctl container ls`.
func newContainerLsCmd(o *options) *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:     "ls [NAME...]",
		Aliases: []string{"get", "list"},
		Short:   "List containers",
		Long: `List containers with their image, runtime, phase, exit code, process ID and
age.

With names, only those containers are shown. -l filters by labels; -w keeps
running and prints a row, with the event that caused it, for every change.`,
		Example: `  swarmctl container ls
  swarmctl container ls web -o yaml
  swarmctl container ls -w`,
		ValidArgsFunction: o.completeContainers(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), o, &lf, args, lsSpec[*v1.Container]{
				singular: "container", plural: "containers", header: containerColumns(), row: containerRow, list: listContainers, watch: watchContainers,
				get: func(ctx context.Context, c *conn, name string) (*v1.Container, error) {
					return c.containers().GetContainer(ctx, &v1.GetContainerRequest{Name: name})
				},
			})
		},
	}
	lf.bind(cmd)
	return cmd
}

// writeContainerTable writes the table of `container ls`.
func writeContainerTable(w io.Writer, cs []*v1.Container, now time.Time) error {
	return writeTable(w, containerColumns(), containerRow, cs, now)
}

// watchContainers streams container events.
func watchContainers(ctx context.Context, o *options, c *conn, selector string) error {
	stream, err := c.containers().WatchContainers(ctx, &v1.WatchContainersRequest{})
	if err != nil {
		return err
	}
	return runWatch(ctx, o.out, o.output, watchSpec[*v1.Container]{
		header:   containerColumns(),
		row:      containerRow,
		labels:   func(ct *v1.Container) map[string]string { return ct.GetMetadata().GetLabels() },
		selector: selector,
		recv: func() (v1.EventType, *v1.Container, error) {
			ev, err := stream.Recv()
			return ev.GetType(), ev.GetContainer(), err
		},
	})
}

// containerRow is one line of `container ls`.
func containerRow(ct *v1.Container, now time.Time) []string {
	st := ct.GetStatus()
	exit, pid := "<none>", "<none>"
	if terminalPhase(st.GetPhase()) {
		exit = strconv.Itoa(int(st.GetExitCode()))
		if st.GetOomKilled() {
			exit += " (OOM)"
		}
	}
	if st.GetPid() > 0 && !terminalPhase(st.GetPhase()) {
		pid = strconv.Itoa(int(st.GetPid()))
	}
	return []string{
		ct.GetMetadata().GetName(),
		orNone(ct.GetSpec().GetImage()),
		orNone(ct.GetSpec().GetRuntime()),
		orNone(st.GetPhase()),
		exit,
		pid,
		age(ct.GetMetadata().GetCreateTime(), now),
	}
}

// newContainerInspectCmd is `swarmctl container inspect`.
func newContainerInspectCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:     "inspect NAME",
		Aliases: []string{"describe"},
		Short:   "Show the details of a container",
		Long: `Show everything known about a container: metadata, its spec (image, command,
environment, mounts, resources, runtime, hostname, node) and its status
(phase, process ID, exit code, OOM kill, reason, times, cgroup). -o json or
yaml prints the Container object.`,
		Example: `  swarmctl container inspect web
  swarmctl container inspect web -o yaml`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeContainers(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ct, err := c.containers().GetContainer(cmd.Context(), &v1.GetContainerRequest{Name: args[0]})
			if err != nil {
				return fmt.Errorf("container %q: %w", args[0], err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, ct)
			}
			return describeContainer(o.out, ct, time.Now())
		},
	}
}

// describeContainer writes a container kubectl-describe style.
func describeContainer(w io.Writer, ct *v1.Container, now time.Time) error {
	d := newDescriber(w)
	describeMeta(d, ct.GetMetadata(), now)
	spec, st := ct.GetSpec(), ct.GetStatus()
	d.section(0, "Spec")
	d.field(1, "Image", orNone(spec.GetImage()))
	d.field(1, "Command", orNone(strings.Join(spec.GetCommand(), " ")))
	d.field(1, "Runtime", orNone(spec.GetRuntime()))
	d.field(1, "Hostname", orNone(spec.GetHostname()))
	d.field(1, "Node", orNone(spec.GetNode()))
	d.list(1, "Env", sortedPairs(spec.GetEnv()))
	var mounts []string
	for _, m := range spec.GetMounts() {
		s := m.GetSource() + ":" + m.GetTarget()
		if m.GetReadOnly() {
			s += " (read-only)"
		}
		mounts = append(mounts, s)
	}
	d.list(1, "Mounts", mounts)
	if r := spec.GetResources(); r == nil {
		d.field(1, "Resources", "<none>")
	} else {
		d.section(1, "Resources")
		describeResources(d, 2, r)
	}
	d.section(0, "Status")
	d.field(1, "Phase", orNone(st.GetPhase()))
	pid := "<none>"
	if st.GetPid() > 0 {
		pid = strconv.Itoa(int(st.GetPid()))
	}
	d.field(1, "PID", pid)
	exit := "<none>"
	if terminalPhase(st.GetPhase()) {
		exit = strconv.Itoa(int(st.GetExitCode()))
	}
	d.field(1, "Exit code", exit)
	d.field(1, "OOM killed", yesNo(st.GetOomKilled()))
	d.field(1, "Reason", orNone(st.GetReason()))
	for _, w := range st.GetWarnings() {
		d.field(1, "Warning", w)
	}
	d.field(1, "Started", timeAndAge(st.GetStartTime(), now))
	d.field(1, "Finished", timeAndAge(st.GetFinishTime(), now))
	d.field(1, "Cgroup", orNone(st.GetCgroupPath()))
	return d.flush()
}

// newContainerLogsCmd is `swarmctl container logs`.
func newContainerLogsCmd(o *options) *cobra.Command {
	var follow bool
	var tail int64
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a container's output",
		Long: `Print a container's output, the whole log or its last --tail lines. With -f,
keep printing new output until the container ends or swarmctl is
interrupted.`,
		Example: `  swarmctl container logs web
  swarmctl container logs web -f --tail 20`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeContainers(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tail < 0 {
				return usagef("--tail must not be negative, got %d", tail)
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			err = copyContainerLogs(ctx, c.containers(), &v1.ContainerLogsRequest{Name: args[0], Follow: follow, TailLines: tail}, o.out, o.errOut)
			if err != nil && (ctx.Err() != nil || isCode(err, codes.Canceled)) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("container %q: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until the container ends")
	cmd.Flags().Int64Var(&tail, "tail", 0, "print only the last N lines (0: the whole log)")
	_ = cmd.RegisterFlagCompletionFunc("tail", cobra.NoFileCompletions)
	return cmd
}

// newContainerStopCmd is `swarmctl container stop`.
func newContainerStopCmd(o *options) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop a container: SIGTERM, then SIGKILL after a grace period",
		Long: `Stop a running container: send it SIGTERM and, if it is still running after
--grace, SIGKILL. The record stays until swarmctl container rm.`,
		Example: `  swarmctl container stop web
  swarmctl container stop web --grace 30s`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeContainers(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return usagef("--grace must not be negative, got %s", grace)
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ct, err := c.containers().StopContainer(cmd.Context(), &v1.StopContainerRequest{Name: args[0], GracePeriod: durationpb.New(grace)})
			if err != nil {
				return fmt.Errorf("container %q: %w", args[0], err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, ct)
			}
			fmt.Fprintf(o.out, "container/%s stopped\n", ct.GetMetadata().GetName())
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 10*time.Second, "how long to wait after SIGTERM before SIGKILL")
	_ = cmd.RegisterFlagCompletionFunc("grace", cobra.NoFileCompletions)
	return cmd
}

// newContainerRmCmd is `swarmctl container rm`.
func newContainerRmCmd(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"delete", "remove"},
		Short:   "Delete containers",
		Long: `Delete containers and their records. A running container is refused unless
-f/--force, which kills it first.`,
		Example: `  swarmctl container rm web
  swarmctl container rm -f web job`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s needs at least one NAME", cmd.CommandPath())
			}
			return nil
		},
		ValidArgsFunction: o.completeContainers(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			var errs []error
			for _, name := range args {
				if _, err := c.containers().DeleteContainer(cmd.Context(), &v1.DeleteContainerRequest{Name: name, Force: force}); err != nil {
					errs = append(errs, fmt.Errorf("container %q: %w", name, err))
					continue
				}
				fmt.Fprintf(o.out, "container/%s deleted\n", name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running container before deleting it")
	return cmd
}
