package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/registry"
)

// wasmMagic starts every WebAssembly binary module: "\0asm" and version 1.
var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// maxModuleBytes bounds a module swarmctl reads (swarmd's default limit).
const maxModuleBytes = 64 << 20

// keyCommentAnnotation is where a trusted key's comment lives.
const keyCommentAnnotation = "comment"

// newPluginKeygenCmd is `swarmctl plugin keygen`.
func newPluginKeygenCmd(o *options) *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --out NAME",
		Short: "Make an ed25519 key pair for signing plugins",
		Long: `Make an ed25519 key pair for signing plugins and write it as PEM:
NAME.key, the private key (PKCS#8, mode 0600: keep it secret, it signs), and
NAME.pub, the public key (PKIX) that an operator trusts with
swarmctl plugin key add. It prints the key id: the first 16 hex digits of the
public key's SHA-256, which swarmd shows as SIGNED-BY.

Existing files are not overwritten unless --force is given. openssl reads both
files (openssl pkey -in NAME.key -noout -text).`,
		Example: `  swarmctl plugin keygen --out ~/.config/stratoswarm/plugin-signing
  swarmctl plugin keygen --out me --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("plugin keygen needs --out NAME: the key pair is written to NAME.key and NAME.pub")
			}
			base := strings.TrimSuffix(strings.TrimSuffix(out, ".key"), ".pub")
			keyPath, pubPath := base+".key", base+".pub"
			if !force {
				for _, p := range []string{keyPath, pubPath} {
					if _, err := os.Lstat(p); err == nil {
						return fmt.Errorf("%s exists: not overwriting a key; use --force to replace it, or another --out", p)
					}
				}
			}
			privPEM, pubPEM, err := registry.GenerateKey()
			if err != nil {
				return err
			}
			pub, err := registry.ParsePublicKey(pubPEM)
			if err != nil {
				return err
			}
			if err := writeSecretFile(keyPath, privPEM, force); err != nil {
				return err
			}
			if err := writeFileAtomic(pubPath, pubPEM, 0o644); err != nil {
				return err
			}
			id := registry.KeyID(pub)
			if o.output != outputTable {
				b, err := json.Marshal(map[string]string{"keyId": id, "privateKey": keyPath, "publicKey": pubPath})
				if err != nil {
					return err
				}
				return writeStructured(o.out, o.output, b)
			}
			fmt.Fprintf(o.out, "Wrote %s (private: keep it secret) and %s (public).\nKey id: %s\n", keyPath, pubPath, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the key pair to NAME.key and NAME.pub")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	return cmd
}

// writeSecretFile writes a private key with mode 0600. Without force it
// refuses to replace an existing file, even one created meanwhile.
func writeSecretFile(path string, data []byte, force bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: not overwriting a key; use --force to replace it", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeFileAtomic writes data to path through a temporary file and rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readModule reads a Wasm module and checks its magic number.
func readModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a .wasm module (build one with swarmctl plugin build %s)", path, path)
	}
	if st.Size() > maxModuleBytes {
		return nil, fmt.Errorf("%s: %s is over the %s module limit", path, humanBytes(st.Size()), humanBytes(maxModuleBytes))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(data, wasmMagic) {
		return nil, fmt.Errorf("%s is not a WebAssembly binary module (it does not start with \\0asm version 1); build one with swarmctl plugin build", path)
	}
	return data, nil
}

// newPluginSignCmd is `swarmctl plugin sign`.
func newPluginSignCmd(o *options) *cobra.Command {
	var keyFile, out string
	cmd := &cobra.Command{
		Use:   "sign FILE.wasm --key NAME.key [--out FILE.wasm.sig]",
		Short: "Sign a plugin module with a private key",
		Long: `Write a detached ed25519 signature of FILE.wasm, made with the private key
from swarmctl plugin keygen, to FILE.wasm.sig (or --out). The signature
covers the module's SHA-256 under a domain string, so it is valid for this
exact module only: rebuild, re-sign. swarmctl plugin push sends FILE.wasm.sig
along when it exists; swarmd accepts the module only if the signature
verifies against a key added with swarmctl plugin key add and not revoked.

The signature file is one line of base64.`,
		Example: `  swarmctl plugin sign hello/hello.wasm --key me.key
  swarmctl plugin sign build/hello.wasm --key me.key --out dist/hello.wasm.sig`,
		Args: exactArgs(1, "FILE.wasm"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return usagef("plugin sign needs --key NAME.key (make a key pair with swarmctl plugin keygen --out NAME)")
			}
			module, err := readModule(args[0])
			if err != nil {
				return err
			}
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			priv, err := registry.ParsePrivateKey(keyPEM)
			if err != nil {
				return fmt.Errorf("%s: %w", keyFile, err)
			}
			if out == "" {
				out = args[0] + ".sig"
			}
			if err := writeFileAtomic(out, registry.Sign(priv, module), 0o644); err != nil {
				return err
			}
			id := registry.KeyID(priv.Public().(ed25519.PublicKey))
			if o.output != outputTable {
				b, err := json.Marshal(map[string]string{"module": args[0], "sha256": registry.Digest(module), "keyId": id, "signature": out})
				if err != nil {
					return err
				}
				return writeStructured(o.out, o.output, b)
			}
			fmt.Fprintf(o.out, "Signed %s (sha256 %s) with key %s: wrote %s\n", args[0], registry.Digest(module)[:12], id, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "private key file from swarmctl plugin keygen (NAME.key)")
	cmd.Flags().StringVar(&out, "out", "", "signature file to write (default FILE.wasm.sig)")
	_ = cmd.MarkFlagFilename("key", "key")
	return cmd
}

// newPluginKeyCmd is `swarmctl plugin key`.
func newPluginKeyCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "key",
		Aliases: []string{"keys"},
		Short:   "Manage the public keys swarmd trusts to sign plugins",
		Long: `swarmd accepts a plugin module only if its signature verifies against one of
its trusted keys that is not revoked. Keys are ed25519 public keys, named by
their key id (the first 16 hex digits of the key's SHA-256).

Revoking a key refuses new uploads signed with it; versions already uploaded
stay.`,
		Example: `  swarmctl plugin key add me.pub --comment "Ada's laptop"
  swarmctl plugin key ls
  swarmctl plugin key revoke 3f2a9c0d11e4b7a5`,
		Args: cobra.NoArgs,
		RunE: showHelp,
	}
	cmd.AddCommand(newPluginKeyAddCmd(o), newPluginKeyLsCmd(o), newPluginKeyRevokeCmd(o))
	return cmd
}

// listKeys reads every page of trusted keys.
func listKeys(cmd *cobra.Command, c *conn) ([]*v1.TrustedKey, error) {
	return collectPages(0, func(size int32, token string) ([]*v1.TrustedKey, string, error) {
		resp, err := c.plugins.ListTrustedKeys(cmd.Context(), &v1.ListTrustedKeysRequest{PageSize: size, PageToken: token})
		return resp.GetKeys(), resp.GetNextPageToken(), err
	})
}

// newPluginKeyAddCmd is `swarmctl plugin key add`.
func newPluginKeyAddCmd(o *options) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:   "add FILE.pub [--comment TEXT]",
		Short: "Trust a public key for plugin signatures",
		Long: `Trust the ed25519 public key in FILE.pub (PEM, as swarmctl plugin keygen
writes it) to sign plugins. The comment says whose key it is; it defaults to
the file's name. Adding a key that is already trusted changes nothing.`,
		Example: `  swarmctl plugin key add me.pub
  swarmctl plugin key add ada.pub --comment "Ada Lovelace, release key"`,
		Args: exactArgs(1, "FILE.pub"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			pub, err := registry.ParsePublicKey(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if !cmd.Flags().Changed("comment") {
				comment = strings.TrimSuffix(filepath.Base(args[0]), ".pub")
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			k, err := c.plugins.AddTrustedKey(cmd.Context(), &v1.AddTrustedKeyRequest{Key: &v1.TrustedKey{
				Metadata:  &v1.ObjectMeta{Annotations: map[string]string{keyCommentAnnotation: comment}},
				PublicKey: data,
			}})
			if err != nil {
				return fmt.Errorf("add key %s: %w", registry.KeyID(pub), err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, k)
			}
			if k.GetRevoked() {
				fmt.Fprintf(o.errOut, "warning: key %s was revoked before; it stays revoked\n", k.GetKeyId())
			}
			fmt.Fprintf(o.out, "key/%s trusted (%s)\n", k.GetKeyId(), orNone(k.GetMetadata().GetAnnotations()[keyCommentAnnotation]))
			return nil
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "whose key this is (default: the file name without .pub)")
	return cmd
}

// newPluginKeyLsCmd is `swarmctl plugin key ls`.
func newPluginKeyLsCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"get", "list"},
		Short:   "List trusted keys",
		Long:    `List the keys swarmd trusts to sign plugins: key id, comment, whether it is revoked, and age.`,
		Example: `  swarmctl plugin key ls
  swarmctl plugin key ls -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			keys, err := listKeys(cmd, c)
			if err != nil {
				return err
			}
			if o.output != outputTable {
				return printList(o.out, o.output, keys)
			}
			if len(keys) == 0 {
				fmt.Fprintln(o.errOut, "No trusted keys. Add one with swarmctl plugin key add FILE.pub.")
				return nil
			}
			tw := newTable(o.out)
			writeRow(tw, "KEY-ID", "COMMENT", "REVOKED", "AGE")
			now := time.Now()
			for _, k := range keys {
				revoked := "no"
				if k.GetRevoked() {
					revoked = "yes"
					if a := age(k.GetRevokeTime(), now); a != "<unknown>" {
						revoked += " (" + a + " ago)"
					}
				}
				writeRow(tw, k.GetKeyId(), truncate(orNone(oneLine(k.GetMetadata().GetAnnotations()[keyCommentAnnotation])), 48), revoked, age(k.GetMetadata().GetCreateTime(), now))
			}
			return tw.Flush()
		},
	}
}

// newPluginKeyRevokeCmd is `swarmctl plugin key revoke`.
func newPluginKeyRevokeCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KEY-ID",
		Short: "Stop trusting a key",
		Long: `Revoke a trusted key: swarmd refuses new uploads signed with it, naming the
key. Versions it signed that are already uploaded stay; remove them with
swarmctl plugin rm if they must go too. A revoked key stays listed.`,
		Example: `  swarmctl plugin key revoke 3f2a9c0d11e4b7a5`,
		Args:    exactArgs(1, "KEY-ID"),
		ValidArgsFunction: o.completeNames(1, func(ctx context.Context, c *conn) ([]string, error) {
			resp, err := c.plugins.ListTrustedKeys(ctx, &v1.ListTrustedKeysRequest{PageSize: pageSize})
			var ids []string
			for _, k := range resp.GetKeys() {
				if !k.GetRevoked() {
					ids = append(ids, k.GetKeyId())
				}
			}
			return ids, err
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			k, err := c.plugins.RevokeTrustedKey(cmd.Context(), &v1.RevokeTrustedKeyRequest{KeyId: args[0]})
			if err != nil {
				return fmt.Errorf("key %s: %w", args[0], err)
			}
			if o.output != outputTable {
				return printMessage(o.out, o.output, k)
			}
			fmt.Fprintf(o.out, "key/%s revoked\n", k.GetKeyId())
			return nil
		},
	}
}
