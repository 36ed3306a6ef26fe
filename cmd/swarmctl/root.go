package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratoswarm/stratoswarm/host/config"
)

// Output formats accepted by -o/--output.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// outputFormats lists the values of -o in the order help text shows them.
func outputFormats() []string { return []string{outputTable, outputJSON, outputYAML} }

// options carries the global flags and the process's streams to every
// command. One is made per root command, so tests run commands in-process
// without shared state.
type options struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	getenv func(string) string

	server     string
	token      string
	context    string
	local      bool
	dataDir    string
	configPath string
	output     string

	root *cobra.Command
}

// newRootCmd builds the swarmctl command tree. in, out and errOut are the
// standard streams; getenv reads the environment (os.Getenv outside tests).
func newRootCmd(in io.Reader, out, errOut io.Writer, getenv func(string) string) *cobra.Command {
	root, _ := buildRoot(in, out, errOut, getenv)
	return root
}

// buildRoot builds the command tree and returns it with the options its
// commands share.
func buildRoot(in io.Reader, out, errOut io.Writer, getenv func(string) string) (*cobra.Command, *options) {
	o := &options{in: in, out: out, errOut: errOut, getenv: getenv}
	root := &cobra.Command{
		Use:   "swarmctl",
		Short: "swarmctl controls a Stratoswarm swarm",
		Long: `swarmctl controls a Stratoswarm swarm: nodes, agents, plugins and the cluster
as a whole.

It talks gRPC to a running swarmd, or, when none is configured, runs the control
plane in-process on a local data directory (local mode), so that it works
without a daemon.

Which swarm it talks to is decided in this order:
  1. --local: local mode on --data-dir;
  2. --server (or SWARM_SERVER): that address, with the token from --token
     (or SWARM_TOKEN), else from the selected context;
  3. --context, else the current-context of the config file;
  4. otherwise local mode on the default data directory.

The transport is plaintext gRPC for now: point --server only at loopback
addresses. Every call carries the bearer token that swarmd writes to
<data-dir>/token at first start.`,
		Example: `  # Show the swarm, running the control plane in-process
  swarmctl cluster status

  # Talk to a running swarmd
  swarmctl --server 127.0.0.1:7700 --token "$(cat ~/.local/share/stratoswarm/token)" node ls

  # Remember that as a context
  swarmctl config set-context dev --server 127.0.0.1:7700 --token-file ~/.local/share/stratoswarm/token
  swarmctl config use-context dev`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return o.validateOutput()
		},
	}
	o.root = root
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)

	pf := root.PersistentFlags()
	pf.StringVar(&o.server, "server", "", "address of swarmd's gRPC API, host:port (env SWARM_SERVER)")
	pf.StringVar(&o.token, "token", "", "bearer token for --server (env SWARM_TOKEN)")
	pf.StringVar(&o.context, "context", "", "context of the config file to use instead of its current-context")
	pf.BoolVar(&o.local, "local", false, "run the control plane in-process on --data-dir (local mode)")
	pf.StringVar(&o.dataDir, "data-dir", config.DefaultDataDir(), "data directory of local mode")
	pf.StringVar(&o.configPath, "config", "", "swarmctl config file (env SWARMCTL_CONFIG; default $XDG_CONFIG_HOME/stratoswarm/config.yaml or ~/.config/stratoswarm/config.yaml)")
	pf.StringVarP(&o.output, "output", "o", outputTable, "output format: "+strings.Join(outputFormats(), ", "))
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats(), cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("context", o.completeContextNames)
	_ = root.MarkPersistentFlagDirname("data-dir")
	_ = root.MarkPersistentFlagFilename("config", "yaml", "yml")

	agentCmd := newAgentCmd(o)
	agentCmd.AddCommand(newAgentEvolveCmd(o))
	root.AddCommand(
		newVersionCmd(o),
		newClusterCmd(o),
		newNodeCmd(o),
		agentCmd,
		newPluginCmd(o),
		newEvolutionCmd(o),
		newContainerCmd(o),
		newCanaryCmd(o),
		newConfigCmd(o),
	)
	return root, o
}

// validateOutput checks -o before any work is done.
func (o *options) validateOutput() error {
	for _, f := range outputFormats() {
		if o.output == f {
			return nil
		}
	}
	return fmt.Errorf("invalid output format %q for -o/--output: want one of %s", o.output, strings.Join(outputFormats(), ", "))
}

// flagChanged reports whether a global flag was set on the command line.
func (o *options) flagChanged(name string) bool {
	f := o.root.PersistentFlags().Lookup(name)
	return f != nil && f.Changed
}

// execute runs root with args and prints any error to its error stream the
// way kubectl does. It returns the process exit code.
func execute(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if ec := (exitCodeError{}); errors.As(err, &ec) {
		return ec.code // a container's exit code: it said why itself
	}
	printError(root.ErrOrStderr(), err)
	if cmd != nil && isUsageError(err) {
		fmt.Fprintf(root.ErrOrStderr(), "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return 1
}

// isUsageError tells errors about the command line (which deserve a hint
// to read --help) from errors about the work itself.
func isUsageError(err error) bool {
	var ue usageError
	if errors.As(err, &ue) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

// Error returns the message.
func (e usageError) Error() string { return e.msg }

// usagef makes a usageError.
func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// showHelp is the RunE of command groups: without a subcommand they print
// their help; an unknown subcommand is refused by cobra.NoArgs.
func showHelp(cmd *cobra.Command, args []string) error { return cmd.Help() }
