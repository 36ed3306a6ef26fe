package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

// redacted stands in for tokens in `config view` without --raw.
const redacted = "REDACTED"

// newConfigCmd is `swarmctl config`.
func newConfigCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Manage contexts in swarmctl's config file",
		Long: `Manage the contexts in swarmctl's config file. A context is a way to reach a
swarm: a server address with a token (inline or from a file), or local mode
on a data directory. The current context is used when neither --server nor
--context nor --local is given.

The file is YAML, written with mode 0600:

  current-context: dev
  contexts:
  - name: dev
    server: 127.0.0.1:7700
    token-file: ~/.local/share/stratoswarm/token
  - name: scratch
    local: true
    data-dir: /tmp/swarm

It is --config, else $SWARMCTL_CONFIG, else
$XDG_CONFIG_HOME/stratoswarm/config.yaml, else ~/.config/stratoswarm/config.yaml.`,
		Example: `  swarmctl config set-context dev --server 127.0.0.1:7700 --token-file ~/.local/share/stratoswarm/token
  swarmctl config use-context dev
  swarmctl config get-contexts
  swarmctl config view`,
		Args: cobra.NoArgs,
		RunE: showHelp,
	}
	cmd.AddCommand(newConfigViewCmd(o), newConfigGetContextsCmd(o), newConfigUseContextCmd(o),
		newConfigSetContextCmd(o), newConfigDeleteContextCmd(o))
	return cmd
}

// newConfigViewCmd is `swarmctl config view`.
func newConfigViewCmd(o *options) *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Print the config file",
		Long: `Print the config file as YAML (or JSON with -o json). Inline tokens are shown
as REDACTED unless --raw is given.`,
		Example: `  swarmctl config view
  swarmctl config view --raw -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, _, err := o.loadConfig()
			if err != nil {
				return err
			}
			if !raw {
				for i := range cfg.Contexts {
					if cfg.Contexts[i].Token != "" {
						cfg.Contexts[i].Token = redacted
					}
				}
			}
			if cfg.Contexts == nil {
				cfg.Contexts = []clientContext{}
			}
			if o.output == outputJSON {
				b, err := json.Marshal(cfg)
				if err != nil {
					return err
				}
				return writeStructured(o.out, outputJSON, b)
			}
			b, err := cfg.marshalYAML()
			if err != nil {
				return err
			}
			_, err = o.out.Write(b)
			return err
		},
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "show inline tokens")
	return cmd
}

// newConfigGetContextsCmd is `swarmctl config get-contexts`.
func newConfigGetContextsCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "get-contexts [NAME...]",
		Short: "List the contexts",
		Long: `List the contexts of the config file; the current one is marked with *.
Tokens are never shown: the TOKEN column says where the token comes from.`,
		Example: `  swarmctl config get-contexts
  swarmctl config get-contexts dev -o yaml`,
		ValidArgsFunction: o.completeContextNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, _, err := o.loadConfig()
			if err != nil {
				return err
			}
			list := cfg.Contexts
			if len(args) > 0 {
				list = nil
				for _, name := range args {
					c, ok := cfg.find(name)
					if !ok {
						return cfg.notFound(name, path)
					}
					list = append(list, *c)
				}
			}
			if o.output != outputTable {
				items := make([]map[string]any, 0, len(list))
				for _, c := range list {
					items = append(items, map[string]any{
						"name": c.Name, "current": c.Name == cfg.CurrentContext,
						"server": c.Server, "local": c.Local, "data-dir": c.DataDir,
						"token": tokenSource(c),
					})
				}
				b, err := json.Marshal(map[string]any{"items": items})
				if err != nil {
					return err
				}
				return writeStructured(o.out, o.output, b)
			}
			if len(list) == 0 {
				fmt.Fprintf(o.errOut, "No contexts in %s; add one with swarmctl config set-context NAME --server ADDR.\n", path)
				return nil
			}
			tw := newTable(o.out)
			writeRow(tw, "CURRENT", "NAME", "TARGET", "TOKEN")
			for _, c := range list {
				cur := ""
				if c.Name == cfg.CurrentContext {
					cur = "*"
				}
				target := c.Server
				if c.Local {
					target = "local"
					if c.DataDir != "" {
						target += " (" + c.DataDir + ")"
					}
				}
				writeRow(tw, cur, c.Name, orNone(target), orNone(tokenSource(c)))
			}
			return tw.Flush()
		},
	}
}

// tokenSource says where a context's token comes from, without the token.
func tokenSource(c clientContext) string {
	switch {
	case c.TokenFile != "":
		return "file " + c.TokenFile
	case c.Token != "":
		return "inline"
	}
	return ""
}

// newConfigUseContextCmd is `swarmctl config use-context`.
func newConfigUseContextCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:               "use-context NAME",
		Short:             "Make a context the current one",
		Long:              `Make NAME the current context, used when neither --server, --context nor --local is given.`,
		Example:           `  swarmctl config use-context dev`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeContextNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, _, err := o.loadConfig()
			if err != nil {
				return err
			}
			if _, ok := cfg.find(args[0]); !ok {
				return cfg.notFound(args[0], path)
			}
			cfg.CurrentContext = args[0]
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(o.out, "Switched to context %q.\n", args[0])
			return nil
		},
	}
}

// newConfigSetContextCmd is `swarmctl config set-context`.
func newConfigSetContextCmd(o *options) *cobra.Command {
	var c clientContext
	cmd := &cobra.Command{
		Use:   "set-context NAME [--server ADDR] [--token T | --token-file F] [--local] [--data-dir D]",
		Short: "Create or change a context",
		Long: `Create the context NAME, or change the fields given as flags and keep the
others. --server and --local exclude each other, as do --token and
--token-file; setting one clears the other. The file is written with mode
0600, since it may hold tokens; prefer --token-file, which keeps the token in
swarmd's own file.`,
		Example: `  # A running swarmd on this host
  swarmctl config set-context dev --server 127.0.0.1:7700 --token-file ~/.local/share/stratoswarm/token

  # Local mode on a scratch data directory
  swarmctl config set-context scratch --local --data-dir /tmp/swarm`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeContextNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			changed := func(name string) bool { return fl.Changed(name) }
			if changed("server") && changed("local") && c.Local {
				return usagef("--server and --local exclude each other")
			}
			if changed("token") && changed("token-file") {
				return usagef("--token and --token-file exclude each other")
			}
			cfg, path, _, err := o.loadConfig()
			if err != nil {
				return err
			}
			ctx, exists := cfg.find(args[0])
			if !exists {
				cfg.Contexts = append(cfg.Contexts, clientContext{Name: args[0]})
				ctx = &cfg.Contexts[len(cfg.Contexts)-1]
			}
			if changed("server") {
				ctx.Server, ctx.Local = c.Server, false
			}
			if changed("local") {
				ctx.Local = c.Local
				if c.Local {
					ctx.Server = ""
				}
			}
			if changed("token") {
				ctx.Token, ctx.TokenFile = c.Token, ""
			}
			if changed("token-file") {
				ctx.TokenFile, ctx.Token = c.TokenFile, ""
			}
			if changed("data-dir") {
				ctx.DataDir = c.DataDir
			}
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			verb := "modified"
			if !exists {
				verb = "created"
			}
			fmt.Fprintf(o.out, "Context %q %s.\n", args[0], verb)
			return nil
		},
	}
	// these shadow the global flags of the same names on this command
	cmd.Flags().StringVar(&c.Server, "server", "", "address of swarmd's gRPC API, host:port")
	cmd.Flags().StringVar(&c.Token, "token", "", "bearer token, stored in the file (prefer --token-file)")
	cmd.Flags().StringVar(&c.TokenFile, "token-file", "", "file holding the bearer token, e.g. <data-dir>/token")
	cmd.Flags().BoolVar(&c.Local, "local", false, "use local mode (run the control plane in-process)")
	cmd.Flags().StringVar(&c.DataDir, "data-dir", "", "data directory for local mode")
	_ = cmd.MarkFlagFilename("token-file")
	_ = cmd.MarkFlagDirname("data-dir")
	return cmd
}

// newConfigDeleteContextCmd is `swarmctl config delete-context`.
func newConfigDeleteContextCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "delete-context NAME",
		Short: "Remove a context",
		Long: `Remove the context NAME from the config file. If it was the current context,
there is no current context afterwards (and swarmctl falls back to local mode).`,
		Example:           `  swarmctl config delete-context scratch`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeContextNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, _, err := o.loadConfig()
			if err != nil {
				return err
			}
			if _, ok := cfg.find(args[0]); !ok {
				return cfg.notFound(args[0], path)
			}
			kept := cfg.Contexts[:0]
			for _, c := range cfg.Contexts {
				if c.Name != args[0] {
					kept = append(kept, c)
				}
			}
			cfg.Contexts = kept
			if cfg.CurrentContext == args[0] {
				cfg.CurrentContext = ""
				fmt.Fprintf(o.errOut, "warning: this removed the current context; use swarmctl config use-context to pick another\n")
			}
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(o.out, "Deleted context %q from %s.\n", args[0], path)
			return nil
		},
	}
}
