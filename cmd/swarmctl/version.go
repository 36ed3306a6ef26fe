package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/buildinfo"
)

// newVersionCmd is `swarmctl version`.
func newVersionCmd(o *options) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client and server versions",
		Long: `Print the version of swarmctl and, when the server can be reached, of swarmd.

In local mode the server is the control plane that swarmctl runs in-process,
so both versions are the same build. If the server cannot be reached, the
client version is printed with a warning and the command still succeeds.`,
		Example: `  # Client and server versions
  swarmctl version

  # Only the client, without contacting any server
  swarmctl version --client

  # As JSON
  swarmctl version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			client := buildinfo.Get()
			var srv *v1.Version
			if !clientOnly {
				var err error
				if srv, err = o.serverVersion(cmd); err != nil {
					fmt.Fprintf(o.errOut, "warning: cannot get the server version: %s\n", describeError(err))
				}
			}
			if o.output == outputTable {
				fmt.Fprintf(o.out, "Client Version: %s\n", versionLine(client))
				if srv != nil {
					fmt.Fprintf(o.out, "Server Version: %s\n", versionLine(srv))
				}
				return nil
			}
			obj := map[string]json.RawMessage{}
			raw, err := messageJSON(client)
			if err != nil {
				return err
			}
			obj["clientVersion"] = raw
			if srv != nil {
				if obj["serverVersion"], err = messageJSON(srv); err != nil {
					return err
				}
			}
			b, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			return writeStructured(o.out, o.output, b)
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print only the client version; contact no server")
	return cmd
}

// serverVersion asks the server for its build.
func (o *options) serverVersion(cmd *cobra.Command) (*v1.Version, error) {
	c, err := o.connect(false)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.cluster.GetVersion(cmd.Context(), &v1.GetVersionRequest{})
}

// versionLine writes a Version on one line.
func versionLine(v *v1.Version) string {
	var extra []string
	if c := v.GetGitCommit(); c != "" {
		if len(c) > 12 {
			c = c[:12]
		}
		extra = append(extra, "commit "+c)
	}
	for _, s := range []string{v.GetGoVersion(), v.GetPlatform()} {
		if s != "" {
			extra = append(extra, s)
		}
	}
	if v.GetApiVersion() != "" {
		extra = append(extra, "API "+v.GetApiVersion())
	}
	if len(extra) == 0 {
		return orNone(v.GetVersion())
	}
	return fmt.Sprintf("%s (%s)", orNone(v.GetVersion()), strings.Join(extra, ", "))
}
