package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/registry"
)

// uploadChunkBytes is the size of each chunk of an upload stream.
const uploadChunkBytes = 512 << 10

// waitOperationTimeout is how long each WaitOperation call waits.
const waitOperationTimeout = 30 * time.Second

// pluginStateRejected is the state of a version the gates refused.
const pluginStateRejected = "Rejected"

// newPluginPushCmd is `swarmctl plugin push`.
func newPluginPushCmd(o *options) *cobra.Command {
	var manifestFile, sigFile, requestID string
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "push FILE.wasm --manifest plugin.yaml [--signature FILE]",
		Aliases: []string{"upload"},
		Short:   "Upload a plugin module; swarmd verifies, validates and benchmarks it",
		Long: `Upload FILE.wasm as the version of the plugin that its manifest names.

Before anything is sent, the manifest is checked here (the same checks swarmd
makes: name, semantic version, kind, abi, capabilities, limits), the module
must start with the WebAssembly magic number and the signature must be
well-formed. The signature is --signature, else FILE.wasm.sig when it exists
(swarmctl plugin sign writes it there); without one the module goes unsigned,
which swarmd refuses unless it runs with allow-unsigned-plugins.

The module is streamed in 512 KiB chunks, with a progress bar when standard
error is a terminal. swarmd checks the signature against its trusted keys
(swarmctl plugin key add) and refuses a module that does not verify, or that a
revoked key signed, before storing anything. It then runs the lifecycle gates
as an operation: validate (the ABI marker, the exports of the kind, the
imports against the granted capabilities, the limits), then benchmark on the
kind's reference workload. push waits for them and prints the outcome: the
new version's state, Candidate or Rejected, the reason and the scores. A
Rejected version makes the exit code 1. With --wait=false, push returns as
soon as the upload is stored and prints the operation's name.

Versions are immutable: pushing the same module again is harmless (the same
--request-id, or the same bytes, return the first result), but another module
under a version already uploaded is refused: bump the version in the manifest.

In local mode the gates run inside swarmctl; with --wait=false they stop when
the command ends and resume the next time swarmctl runs on that data dir.`,
		Example: `  # Sign, then push with the signature next to the module
  swarmctl plugin sign hello/hello.wasm --key me.key
  swarmctl plugin push hello/hello.wasm --manifest hello/plugin.yaml

  # Return at once; see the outcome later with describe
  swarmctl plugin push hello.wasm --manifest plugin.yaml --wait=false
  swarmctl plugin describe hello

  # The Plugin object as JSON, for scripts
  swarmctl plugin push hello.wasm --manifest plugin.yaml -o json`,
		Args: exactArgs(1, "FILE.wasm"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return usagef("--timeout must not be negative, got %s", timeout)
			}
			file := args[0]
			if manifestFile == "" {
				beside := filepath.Join(filepath.Dir(file), "plugin.yaml")
				if _, err := os.Stat(beside); err != nil {
					return usagef("plugin push needs --manifest plugin.yaml (there is no plugin.yaml beside %s)", file)
				}
				manifestFile = beside
			}
			mdata, err := os.ReadFile(manifestFile)
			if err != nil {
				return err
			}
			m, err := registry.ParseManifest(mdata)
			if err != nil {
				return fmt.Errorf("%s: %w", manifestFile, err)
			}
			module, err := readModule(file)
			if err != nil {
				return err
			}
			sig, sigSource, err := pushSignature(file, sigFile, cmd.Flags().Changed("signature"))
			if err != nil {
				return err
			}
			if sig == nil {
				fmt.Fprintf(o.errOut, "warning: %s has no signature (%s.sig does not exist): pushing it unsigned\n", file, file)
			}
			if requestID == "" {
				requestID = randomID()
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			what := fmt.Sprintf("push %s %s", m.Name, m.Version)
			op, err := uploadPlugin(ctx, c, &v1.UploadPluginHeader{
				Manifest: mdata, Signature: sig, SizeBytes: int64(len(module)), RequestId: requestID,
			}, module, newProgress(o.errOut, fmt.Sprintf("Pushing %s %s", m.Name, m.Version), int64(len(module))))
			if err != nil {
				return pushError(what, file, sigSource, err)
			}
			if !wait {
				if o.output != outputTable {
					return printMessage(o.out, o.output, op)
				}
				fmt.Fprintf(o.out, "plugin/%s %s uploaded; the gates run as operation %s\n", m.Name, m.Version, op.GetMetadata().GetName())
				fmt.Fprintf(o.out, "See the outcome with: swarmctl plugin describe %s\n", m.Name)
				if c.target.local {
					fmt.Fprintln(o.errOut, "note: in local mode the gates stop when swarmctl exits; they resume the next time swarmctl runs on this data dir")
				}
				return nil
			}
			if isTerminal(o.errOut) && !op.GetDone() {
				fmt.Fprintf(o.errOut, "Waiting for the gates (validate, benchmark) of %s %s...\n", m.Name, m.Version)
			}
			op, err = waitOperation(ctx, c, op, timeout)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			p, err := operationPlugin(op)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			v := findPluginVersion(p, m.Version)
			if v == nil {
				return fmt.Errorf("%s: the operation finished but %s has no version %s (was it removed meanwhile?)", what, m.Name, m.Version)
			}
			if o.output != outputTable {
				if err := printMessage(o.out, o.output, p); err != nil {
					return err
				}
			} else if err := printPushOutcome(o.out, p, v); err != nil {
				return err
			}
			if v.GetState() == pluginStateRejected {
				return fmt.Errorf("plugin %s %s was rejected: %s", m.Name, m.Version, orNone(oneLine(v.GetReason())))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&manifestFile, "manifest", "", "the plugin's plugin.yaml (default: plugin.yaml beside FILE.wasm)")
	cmd.Flags().StringVar(&sigFile, "signature", "", "signature file from swarmctl plugin sign (default: FILE.wasm.sig if it exists)")
	cmd.Flags().StringVar(&requestID, "request-id", "", "idempotency key: a repeated push with it returns the first result (default: random)")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait for the gates and print the outcome; --wait=false returns after the upload")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up waiting after this long (0: wait until the gates finish)")
	_ = cmd.MarkFlagFilename("manifest", "yaml", "yml")
	_ = cmd.MarkFlagFilename("signature", "sig")
	return cmd
}

// pushSignature reads the signature to send: the named file, else
// FILE.wasm.sig if it exists, else none. source names the file for hints.
func pushSignature(module, sigFile string, named bool) (sig []byte, source string, err error) {
	source = sigFile
	if !named {
		source = module + ".sig"
	}
	data, err := os.ReadFile(source)
	if errors.Is(err, fs.ErrNotExist) && !named {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	if _, err := registry.ParseSignature(data); err != nil {
		return nil, "", fmt.Errorf("%s: %w", source, err)
	}
	return data, source, nil
}

// uploadPlugin streams the header and the module in chunks and returns the
// operation swarmd started.
func uploadPlugin(ctx context.Context, c *conn, header *v1.UploadPluginHeader, module []byte, prog *progress) (*v1.Operation, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.plugins.UploadPlugin(ctx)
	if err != nil {
		return nil, err
	}
	send := func(req *v1.UploadPluginRequest) bool {
		// io.EOF means the server ended the stream: CloseAndRecv has why
		return stream.Send(req) == nil
	}
	if send(&v1.UploadPluginRequest{Part: &v1.UploadPluginRequest_Header{Header: header}}) {
		for off := 0; off < len(module); off += uploadChunkBytes {
			end := min(off+uploadChunkBytes, len(module))
			if !send(&v1.UploadPluginRequest{Part: &v1.UploadPluginRequest_Chunk{Chunk: module[off:end]}}) {
				break
			}
			prog.update(int64(end))
		}
	}
	op, err := stream.CloseAndRecv()
	prog.finish()
	return op, err
}

// pushError adds to a refused upload the context and a hint for the usual
// causes: no signature, one that does not verify, a revoked key.
func pushError(what, file, sigSource string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	msg := strings.ToLower(err.Error())
	switch {
	case sigSource == "" && strings.Contains(msg, "not signed"):
		return withHint(err, "swarmctl plugin sign %s --key NAME.key writes %s.sig, which push sends along (a key pair comes from swarmctl plugin keygen --out NAME)", file, file)
	case strings.Contains(msg, "revoked"):
		return withHint(err, "sign %s with a key that is still trusted (swarmctl plugin key ls)", file)
	case strings.Contains(msg, "signature") && strings.Contains(msg, "verify"):
		return withHint(err, "%s must be signed after its last build (swarmctl plugin sign %s --key NAME.key), with a key swarmd trusts (swarmctl plugin key ls)", file, file)
	}
	return err
}

// waitOperation waits until op is done: WaitOperation in rounds of 30 s,
// or, against a server without it, polling GetOperation. timeout 0 waits
// for ever.
func waitOperation(ctx context.Context, c *conn, op *v1.Operation, timeout time.Duration) (*v1.Operation, error) {
	name := op.GetMetadata().GetName()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	poll := false
	delay := 100 * time.Millisecond
	for !op.GetDone() {
		var next *v1.Operation
		var err error
		if !poll {
			callCtx, cancel := context.WithTimeout(ctx, waitOperationTimeout+15*time.Second)
			next, err = c.ops.WaitOperation(callCtx, &v1.WaitOperationRequest{Name: name, Timeout: durationpb.New(waitOperationTimeout)})
			cancel()
			if isCode(err, codes.Unimplemented) {
				poll = true // a server without WaitOperation: poll
				continue
			}
			if isCode(err, codes.DeadlineExceeded) && ctx.Err() == nil {
				continue // the server held on longer than asked
			}
		} else {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			delay = min(delay*2, 2*time.Second)
			if ctx.Err() == nil {
				next, err = c.ops.GetOperation(ctx, &v1.GetOperationRequest{Name: name})
			}
		}
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("the gates are still running after %s (operation %s: %s); see the outcome later with swarmctl plugin describe", timeout, name, orNone(op.GetMessage()))
			}
			return nil, fmt.Errorf("stopped waiting for operation %s: %w", name, ctx.Err())
		}
		if err != nil {
			return nil, fmt.Errorf("wait for operation %s: %w", name, err)
		}
		op = next
	}
	return op, nil
}

// operationPlugin reads the Plugin an upload operation finished with, or
// the error it failed with.
func operationPlugin(op *v1.Operation) (*v1.Plugin, error) {
	if e := op.GetError(); e != nil {
		return nil, fmt.Errorf("operation %s failed: %w", op.GetMetadata().GetName(), status.Error(codes.Code(e.GetCode()), e.GetMessage()))
	}
	resp := op.GetResponse()
	if resp == nil {
		return nil, fmt.Errorf("operation %s finished without a result", op.GetMetadata().GetName())
	}
	p := &v1.Plugin{}
	if err := resp.UnmarshalTo(p); err != nil {
		return nil, fmt.Errorf("operation %s: result is not a Plugin: %w", op.GetMetadata().GetName(), err)
	}
	return p, nil
}

// printPushOutcome writes the pushed version's state, reason and scores.
func printPushOutcome(w io.Writer, p *v1.Plugin, v *v1.PluginVersion) error {
	name := p.GetMetadata().GetName()
	d := newDescriber(w)
	d.field(0, "Plugin", name)
	d.field(0, "Kind", pluginKindName(p.GetSpec().GetKind()))
	d.field(0, "Version", v.GetVersion())
	d.field(0, "State", orNone(v.GetState()))
	d.field(0, "Reason", orNone(oneLine(v.GetReason())))
	d.field(0, "SHA256", orNone(v.GetSha256()))
	signer := v.GetSignedBy()
	if signer == "" {
		signer = "<unsigned>"
	}
	d.field(0, "Signed by", signer)
	d.field(0, "Size", humanBytes(v.GetSizeBytes()))
	d.section(0, "Scores")
	d.table(1, []string{"NAME", "VALUE"}, scoreRows(v.GetScores()))
	if err := d.flush(); err != nil {
		return err
	}
	if v.GetState() == "Candidate" {
		_, err := fmt.Fprintf(w, "Make it the default with: swarmctl plugin promote %s %s\n", name, v.GetVersion())
		return err
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line progress bar with \r on a terminal, and
// nothing elsewhere.
type progress struct {
	w       io.Writer
	label   string
	total   int64
	last    int
	started bool
}

// newProgress draws on w if it is a terminal.
func newProgress(w io.Writer, label string, total int64) *progress {
	if !isTerminal(w) {
		w = nil
	}
	return &progress{w: w, label: label, total: total, last: -1}
}

// update redraws the bar for done bytes of total.
func (p *progress) update(done int64) {
	if p == nil || p.w == nil || p.total <= 0 {
		return
	}
	pct := int(done * 100 / p.total)
	if pct == p.last {
		return
	}
	p.last, p.started = pct, true
	const width = 30
	fill := pct * width / 100
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %s/%s", p.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), pct, humanBytes(done), humanBytes(p.total))
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p != nil && p.w != nil && p.started {
		fmt.Fprintln(p.w)
	}
}
