// Package image builds OCI image layouts: the test image the container
// runtime's tests and process evaluations run in, made from the host's
// static busybox (Debian's busybox-static) at build time rather than
// committed as a blob, and the scratch image (an empty root filesystem for
// static programs brought in with a bind mount). The layouts are
// reproducible: the same busybox gives the same digests, so a rebuild is a
// no-op for containerd.
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
	entries := mountPoints("bin/")
	entries = append(entries, layerEntry{tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, bb})
	sorted := append([]string(nil), opts.Applets...)
	sort.Strings(sorted)
	for _, a := range sorted {
		if a == "" || a == "busybox" || strings.ContainsAny(a, "/\x00") {
			return ocispec.Descriptor{}, fmt.Errorf("applet %q: not a plain name", a)
		}
		entries = append(entries, layerEntry{h: tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}})
	}
	entries = append(entries, etcFiles()...)
	config := ocispec.ImageConfig{Env: []string{"PATH=/bin"}, Cmd: []string{"/bin/sh"}, WorkingDir: "/"}
	return writeImage(dir, entries, config, opts.Ref)
}

// ScratchRef is the scratch image's reference name.
const ScratchRef = "stratoswarm.local/scratch:latest"

// ScratchOptions configure BuildScratch.
type ScratchOptions struct {
	// Ref names the image in the layout's index (default ScratchRef).
	Ref string
}

// BuildScratch writes an OCI image layout of an empty root filesystem into
// dir (created, and emptied of an earlier layout): one layer holding only
// what a runtime mounts over or looks up (the empty directories /proc,
// /sys, /dev, /tmp and /etc, with /etc/passwd and /etc/group naming root
// and nobody), for static programs brought in with a bind mount. It is
// what the containerd backend runs for the image "scratch". The layout is
// reproducible. It returns the manifest's descriptor.
func BuildScratch(dir string, opts ScratchOptions) (ocispec.Descriptor, error) {
	if opts.Ref == "" {
		opts.Ref = ScratchRef
	}
	return writeImage(dir, append(mountPoints(), etcFiles()...), ocispec.ImageConfig{WorkingDir: "/"}, opts.Ref)
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

// layerEntry is one entry of a layer; buildLayer sets its times, owners
// and (for regular files) size.
type layerEntry struct {
	h    tar.Header
	body []byte
}

// mountPoints are the empty directories a runtime mounts over (/dev,
// /proc, /sys, /tmp, sticky and world-writable) and /etc, with extra ones
// ("bin/") sorted in.
func mountPoints(extra ...string) []layerEntry {
	dirs := append([]string{"dev/", "etc/", "proc/", "sys/", "tmp/"}, extra...)
	sort.Strings(dirs)
	entries := make([]layerEntry, 0, len(dirs))
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		entries = append(entries, layerEntry{h: tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode}})
	}
	return entries
}

// etcFiles are /etc/group and /etc/passwd with root and nobody: what
// runtimes read to resolve users and supplementary groups.
func etcFiles() []layerEntry {
	return []layerEntry{
		{tar.Header{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644}, []byte("root:x:0:\nnogroup:x:65534:\n")},
		{tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644}, []byte("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")},
	}
}

// buildLayer returns the gzipped layer of the entries, in their order,
// and its diff ID (the digest of the uncompressed tar).
func buildLayer(entries []layerEntry) ([]byte, digest.Digest, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		h := e.h
		h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname, h.Format = epoch, 0, 0, "root", "root", tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, "", fmt.Errorf("layer entry %s: %w", h.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, "", fmt.Errorf("layer entry %s: %w", h.Name, err)
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

// writeImage writes an OCI image layout into dir (created, and emptied of
// an earlier layout's blobs) of one layer of the entries, with config as
// the image's configuration and ref as the manifest's reference name. It
// returns the manifest's descriptor.
func writeImage(dir string, entries []layerEntry, config ocispec.ImageConfig, ref string) (ocispec.Descriptor, error) {
	layer, diffID, err := buildLayer(entries)
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
	img := ocispec.Image{
		Created:  &epoch,
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   config,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	}
	configDesc, err := w.json(ocispec.MediaTypeImageConfig, img)
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
	manifestDesc.Platform = &img.Platform
	manifestDesc.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
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
