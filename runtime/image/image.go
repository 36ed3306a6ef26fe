// Package image builds OCI image layouts: the test image the container
// runtime's tests and process evaluations run in, made from the host's
// static busybox (Debian's busybox-static) at build time rather than
// committed as a blob. The layout is reproducible: the same busybox gives
// the same digests, so a rebuild is a no-op for containerd.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultRef is the test image's reference name.
const DefaultRef = "stratoswarm.local/busybox:test"

// DefaultApplets are the busybox applets linked into /bin: enough for the
// runtime's tests (a shell, the namespace and limit probes).
var DefaultApplets = []string{
	"sh", "ash", "cat", "echo", "true", "false", "sleep", "ls", "mkdir", "rm", "touch", "dd", "head",
	"hostname", "id", "ps", "mount", "umount", "ip", "ifconfig", "env", "test", "[", "grep", "wc",
	"readlink", "stat", "yes", "kill", "uname", "seq", "nproc", "free", "df",
}

// epoch is every file's modification time, so that layers are reproducible.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Options configure BuildBusybox.
type Options struct {
	// Busybox is the static busybox binary (default /bin/busybox).
	Busybox string
	// Applets are linked to busybox under /bin (default DefaultApplets).
	Applets []string
	// Ref names the image in the layout's index (default DefaultRef).
	Ref string
}

// BuildBusybox writes an OCI image layout of one layer into dir (created,
// and emptied of an earlier layout): /bin/busybox, its applets as
// symlinks, /etc/passwd and /etc/group with root and nobody, and the empty
// mount points /proc, /sys, /dev, /tmp. It returns the manifest's
// descriptor.
func BuildBusybox(dir string, opts Options) (ocispec.Descriptor, error) {
	if opts.Busybox == "" {
		opts.Busybox = "/bin/busybox"
	}
	if opts.Applets == nil {
		opts.Applets = DefaultApplets
	}
	if opts.Ref == "" {
		opts.Ref = DefaultRef
	}
	bb, err := os.ReadFile(opts.Busybox)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("read busybox: %w (install Debian's busybox-static, or pass its path)", err)
	}
	if err := checkStatic(bb); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", opts.Busybox, err)
	}
	layer, diffID, err := busyboxLayer(bb, opts.Applets)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := os.RemoveAll(filepath.Join(dir, ocispec.ImageBlobsDir)); err != nil {
		return ocispec.Descriptor{}, err
	}
	w := layoutWriter{dir: dir}
	layerDesc, err := w.blob(ocispec.MediaTypeImageLayerGzip, layer)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	config := ocispec.Image{
		Created:  &epoch,
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config: ocispec.ImageConfig{
			Env:        []string{"PATH=/bin"},
			Cmd:        []string{"/bin/sh"},
			WorkingDir: "/",
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	}
	configDesc, err := w.json(ocispec.MediaTypeImageConfig, config)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	}
	manifestDesc, err := w.json(ocispec.MediaTypeImageManifest, manifest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	manifestDesc.Platform = &config.Platform
	manifestDesc.Annotations = map[string]string{ocispec.AnnotationRefName: opts.Ref}
	index := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifestDesc},
	}
	if err := w.file(ocispec.ImageIndexFile, index); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := w.file(ocispec.ImageLayoutFile, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}); err != nil {
		return ocispec.Descriptor{}, err
	}
	return manifestDesc, nil
}

// checkStatic refuses a dynamically linked binary: it would not run in a
// root filesystem without its libraries.
func checkStatic(elf []byte) error {
	if len(elf) < 4 || !bytes.Equal(elf[:4], []byte("\x7fELF")) {
		return errors.New("not an ELF executable")
	}
	if bytes.Contains(elf, []byte("/lib64/ld-linux")) || bytes.Contains(elf, []byte("/lib/ld-linux")) {
		return errors.New("busybox is dynamically linked: use the static one (Debian busybox-static)")
	}
	return nil
}

// busyboxLayer returns the gzipped layer and its diff ID (the digest of
// the uncompressed tar).
func busyboxLayer(bb []byte, applets []string) ([]byte, digest.Digest, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	hdr := func(h *tar.Header) error {
		h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname, h.Format = epoch, 0, 0, "root", "root", tar.FormatPAX
		return tw.WriteHeader(h)
	}
	for _, d := range []string{"bin/", "dev/", "etc/", "proc/", "sys/", "tmp/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := hdr(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode}); err != nil {
			return nil, "", err
		}
	}
	if err := hdr(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))}); err != nil {
		return nil, "", err
	}
	if _, err := tw.Write(bb); err != nil {
		return nil, "", err
	}
	sorted := append([]string(nil), applets...)
	sort.Strings(sorted)
	for _, a := range sorted {
		if a == "" || a == "busybox" || strings.ContainsAny(a, "/\x00") {
			return nil, "", fmt.Errorf("applet %q: not a plain name", a)
		}
		if err := hdr(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}); err != nil {
			return nil, "", err
		}
	}
	for _, f := range []struct{ name, content string }{
		{"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
		{"etc/passwd", "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"},
	} {
		if err := hdr(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.content))}); err != nil {
			return nil, "", err
		}
		if _, err := io.WriteString(tw, f.content); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	diffID := digest.FromBytes(raw.Bytes())
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, "", err
	}
	zw.ModTime = epoch // a fixed header: reproducible digests
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), diffID, nil
}

// layoutWriter writes blobs and files of an OCI image layout.
type layoutWriter struct{ dir string }

func (w layoutWriter) blob(mediaType string, b []byte) (ocispec.Descriptor, error) {
	sum := sha256.Sum256(b)
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.NewDigestFromBytes(digest.SHA256, sum[:]), Size: int64(len(b))}
	p := filepath.Join(w.dir, ocispec.ImageBlobsDir, "sha256", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return d, err
	}
	return d, os.WriteFile(p, b, 0o644)
}

func (w layoutWriter) json(mediaType string, v any) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return w.blob(mediaType, b)
}

func (w layoutWriter) file(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(w.dir, name), b, 0o644)
}

// WriteTar writes the layout in dir as a tar stream, the form containerd
// imports (ctr images import, client.Import).
func WriteTar(dir string, out io.Writer) error {
	tw := tar.NewWriter(out)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname = filepath.ToSlash(rel), epoch, 0, 0, "", ""
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tar the layout %s: %w", dir, err)
	}
	return tw.Close()
}

// Verify checks a layout: index.json names exactly one manifest (ref),
// every blob the manifest reaches exists with its digest and size, and the
// config's diff IDs match the layers. It returns the manifest.
func Verify(dir string) (ocispec.Manifest, string, error) {
	img, err := Open(dir)
	if err != nil {
		return ocispec.Manifest{}, "", err
	}
	for i := range img.manifest.Layers {
		r, err := img.layer(i)
		if err != nil {
			return img.manifest, "", err
		}
		_, err = io.Copy(io.Discard, r)
		r.Close()
		if err != nil {
			return img.manifest, "", err
		}
	}
	return img.manifest, img.ref, nil
}
