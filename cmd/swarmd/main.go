// Command swarmd is the Stratoswarm daemon: the control plane's gRPC and
// REST API over the node's badger store.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stratoswarm/stratoswarm/host/buildinfo"
	"github.com/stratoswarm/stratoswarm/host/config"
	"github.com/stratoswarm/stratoswarm/host/server"
)

func main() {
	if err := newCommand(os.Stderr, os.Getenv).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "swarmd:", err)
		os.Exit(1)
	}
}

// newCommand builds the swarmd command; logs go to logOut.
func newCommand(logOut io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "swarmd",
		Short: "Run the Stratoswarm daemon",
		Long: `swarmd serves the Stratoswarm control plane: gRPC on --grpc-addr and REST,
/healthz and /metrics on --http-addr, from a badger store in --data-dir.

Every setting can also come from the environment (SWARMD_DATA_DIR, ...) or a
YAML config file (--config or SWARMD_CONFIG) whose keys are the flag names.
Precedence: flags, then environment, then file, then defaults.

At first start swarmd writes a bearer token to <data-dir>/token (mode 0600);
clients send it as 'authorization: Bearer <token>'.`,
		Example: `  # run on the defaults (127.0.0.1:7700 gRPC, 127.0.0.1:7701 HTTP)
  swarmd

  # a second instance with its own data dir and ports
  swarmd --data-dir /var/lib/stratoswarm --grpc-addr :7800 --http-addr :7801

  # from a config file, with JSON logs
  SWARMD_LOG_FORMAT=json swarmd --config /etc/stratoswarm/swarmd.yaml`,
		Version:       buildinfo.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			log := newLogger(logOut, cfg)
			srv, err := server.New(cfg, log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return srv.Run(ctx)
		},
	}
	config.BindFlags(cmd.Flags(), config.Default())
	return cmd
}

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
