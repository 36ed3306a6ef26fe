package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// entry is one tar entry of a hand-built layer.
type entry struct {
	h    tar.Header
	body string
}

func reg(name, body string) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body}
}
func dir(name string) entry {
	return entry{h: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}
func symlink(name, target string) entry {
	return entry{h: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}
func hardlink(name, target string) entry {
	return entry{h: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

// layer is a hand-built layer; gz picks tar+gzip over plain tar.
type layer struct {
	gz      bool
	entries []entry
}

// writeLayout writes an OCI layout of the layers into dir.
func writeLayout(t *testing.T, dir string, layers ...layer) ocispec.Descriptor {
	t.Helper()
	w := layoutWriter{dir: dir}
	var descs []ocispec.Descriptor
	var diffIDs []digest.Digest
	for _, l := range layers {
		var raw bytes.Buffer
		tw := tar.NewWriter(&raw)
		for _, e := range l.entries {
			h := e.h
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		diffIDs = append(diffIDs, digest.FromBytes(raw.Bytes()))
		blob, mt := raw.Bytes(), ocispec.MediaTypeImageLayer
		if l.gz {
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(raw.Bytes())
			zw.Close()
			blob, mt = gz.Bytes(), ocispec.MediaTypeImageLayerGzip
		}
		d, err := w.blob(mt, blob)
		if err != nil {
			t.Fatal(err)
		}
		descs = append(descs, d)
	}
	config, err := w.json(ocispec.MediaTypeImageConfig, ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	if err != nil {
		t.Fatal(err)
	}
	md, err := w.json(ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: descs,
	})
	if err != nil {
		t.Fatal(err)
	}
	md.Annotations = map[string]string{ocispec.AnnotationRefName: "test"}
	if err := w.file(ocispec.ImageIndexFile, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{md}}); err != nil {
		t.Fatal(err)
	}
	if err := w.file(ocispec.ImageLayoutFile, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}); err != nil {
		t.Fatal(err)
	}
	return md
}

func TestUnpackBusyboxRuns(t *testing.T) {
	needBusybox(t)
	base := t.TempDir()
	layout := filepath.Join(base, "layout")
	md, err := BuildBusybox(layout, Options{})
	if err != nil {
		t.Fatal(err)
	}
	img, err := Open(layout)
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest() != md.Digest || img.Ref() != DefaultRef || len(img.Manifest().Layers) != 1 || img.Config().Config.Cmd[0] != "/bin/sh" {
		t.Fatalf("opened image: digest %s ref %q manifest %+v", img.Digest(), img.Ref(), img.Manifest())
	}
	root := filepath.Join(base, "rootfs")
	if err := img.Unpack(root); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(root, "bin", "sh"), "-c", "echo hello from $(basename $0)").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello from sh") {
		t.Fatalf("the unpacked shell: %s %v", out, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&fs.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Fatalf("/tmp: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("the root: %v %v", fi.Mode(), err)
	}
	// A second unpack into the same, now full, directory is refused.
	if err := img.Unpack(root); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("unpack into a full directory: %v", err)
	}
	// An empty directory is fine.
	empty := filepath.Join(base, "empty")
	os.Mkdir(empty, 0o755)
	if err := img.Unpack(empty); err != nil {
		t.Fatal(err)
	}
}

func TestOpenTar(t *testing.T) {
	needBusybox(t)
	base := t.TempDir()
	layout := filepath.Join(base, "layout")
	md, err := BuildBusybox(layout, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTar(layout, &buf); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(base, "image.tar")
	os.WriteFile(tarPath, buf.Bytes(), 0o644)
	img, err := Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest() != md.Digest || img.Ref() != DefaultRef {
		t.Fatalf("digest %s ref %q", img.Digest(), img.Ref())
	}
	root := filepath.Join(base, "rootfs")
	if err := img.Unpack(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "busybox")); err != nil {
		t.Fatal(err)
	}

	// A corrupted layer blob (same size) in the tar: Open names its digest.
	m := img.Manifest()
	blob := filepath.Join(layout, ocispec.ImageBlobsDir, "sha256", m.Layers[0].Digest.Encoded())
	b, _ := os.ReadFile(blob)
	b[len(b)/2] ^= 0xff
	os.WriteFile(blob, b, 0o644)
	buf.Reset()
	if err := WriteTar(layout, &buf); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(tarPath, buf.Bytes(), 0o644)
	if _, err := Open(tarPath); err == nil || !strings.Contains(err.Error(), m.Layers[0].Digest.String()) {
		t.Fatalf("corrupted blob: %v", err)
	}
	// So does a corrupted config, and a truncated one.
	cfg := filepath.Join(layout, ocispec.ImageBlobsDir, "sha256", m.Config.Digest.Encoded())
	cb, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, cb[:len(cb)-1], 0o644)
	if _, err := Open(layout); err == nil || !strings.Contains(err.Error(), m.Config.Digest.String()) {
		t.Fatalf("truncated config: %v", err)
	}
	// A tar whose entry climbs out is refused.
	var evil bytes.Buffer
	tw := tar.NewWriter(&evil)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "../index.json", Mode: 0o644})
	tw.Close()
	os.WriteFile(tarPath, evil.Bytes(), 0o644)
	if _, err := Open(tarPath); err == nil || !strings.Contains(err.Error(), `"../index.json"`) {
		t.Fatalf("escaping layout tar: %v", err)
	}
}

func TestUnpackLayers(t *testing.T) {
	base := t.TempDir()
	sentinel := filepath.Join(base, "sentinel")
	os.WriteFile(sentinel, []byte("keep"), 0o644)
	layout := filepath.Join(base, "layout")
	fifo := entry{h: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o600}}
	writeLayout(t, layout,
		layer{gz: true, entries: []entry{
			dir("etc/"), reg("etc/a", "a"), reg("etc/b", "b"),
			dir("d/"), reg("d/old", "old"), dir("d/sub/"), reg("d/sub/old2", "old2"),
			symlink("over", sentinel), // replaced, never followed, by layer 2
			dir("ro/"), reg("ro/f", "f"),
			dir("usr/"), dir("usr/lib/"), symlink("lib", "usr/lib"),
		}},
		layer{gz: false, entries: []entry{
			reg("etc/.wh.a", ""),
			dir("d/"), reg("d/.wh..wh..opq", ""), reg("d/new", "new"),
			reg("over", "pwned"),
			reg("lib/libc.so", "libc"), hardlink("hl", "lib/libc.so"),
			{h: tar.Header{Typeflag: tar.TypeDir, Name: "ro/", Mode: 0o555}},
			dir("run/"), fifo,
			// A whiteout of something this layer wrote leaves it.
			reg("etc/c", "c"), reg("etc/.wh.c", ""),
		}},
	)
	img, err := Open(layout)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "rootfs")
	if err := img.Unpack(root); err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(root, p)); return err == nil }
	for _, p := range []string{"etc/b", "etc/c", "d/new", "usr/lib/libc.so", "hl", "ro/f"} {
		if !exists(p) {
			t.Errorf("%s is missing", p)
		}
	}
	for _, p := range []string{"etc/a", "d/old", "d/sub"} {
		if exists(p) {
			t.Errorf("%s survived its whiteout", p)
		}
	}
	if b, _ := os.ReadFile(sentinel); string(b) != "keep" {
		t.Fatalf("the sentinel outside was written through a symlink: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(root, "over")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("over: %v %v", fi, err)
	}
	if fi, _ := os.Stat(filepath.Join(root, "ro")); fi.Mode().Perm() != 0o555 {
		t.Fatalf("ro: mode %v", fi.Mode())
	}
	a, _ := os.Stat(filepath.Join(root, "hl"))
	b, _ := os.Stat(filepath.Join(root, "usr/lib/libc.so"))
	if !os.SameFile(a, b) {
		t.Fatal("hl is not a hard link to usr/lib/libc.so")
	}
	fi, err := os.Lstat(filepath.Join(root, "run/fifo"))
	if os.Geteuid() == 0 {
		if err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
			t.Fatalf("as root the fifo is made: %v %v", fi, err)
		}
	} else if err == nil {
		t.Fatal("unprivileged, the fifo was made")
	}
}

// TestUnpackHostile runs hostile layers: each is refused naming the entry,
// leaves no destination, and writes nothing outside the temporary root.
func TestUnpackHostile(t *testing.T) {
	if _, err := os.Lstat("/etc/x"); err == nil {
		t.Fatal("/etc/x exists before the test: the check below would be void")
	}
	cases := []struct {
		name    string
		opts    UnpackOptions
		layers  []layer
		inError string
	}{
		{"dotdot", UnpackOptions{}, []layer{{true, []entry{reg("../escape", "x")}}}, `"../escape"`},
		{"dotdot inside", UnpackOptions{}, []layer{{true, []entry{dir("a/"), reg("a/../../escape", "x")}}}, `"a/../../escape"`},
		{"absolute", UnpackOptions{}, []layer{{true, []entry{reg("/etc/passwd", "x")}}}, `"/etc/passwd"`},
		{"symlink to root", UnpackOptions{}, []layer{{true, []entry{symlink("link", "/"), reg("link/etc/x", "x")}}}, `"link/etc/x"`},
		{"symlink in a lower layer", UnpackOptions{}, []layer{
			{true, []entry{symlink("link", "/")}},
			{false, []entry{reg("link/etc/x", "x")}},
		}, `"link/etc/x"`},
		{"symlink chain", UnpackOptions{}, []layer{{true, []entry{
			dir("d/"), symlink("d/up", ".."), symlink("b", "d/up/.."), symlink("a", "b"), reg("a/escape", "x"),
		}}}, `"a/escape"`},
		{"symlink loop", UnpackOptions{}, []layer{{true, []entry{symlink("l1", "l2"), symlink("l2", "l1"), reg("l1/x", "x")}}}, `"l1/x"`},
		{"hardlink out", UnpackOptions{}, []layer{{true, []entry{hardlink("hl", "../../etc/passwd")}}}, `"hl"`},
		{"hardlink absolute", UnpackOptions{}, []layer{{true, []entry{hardlink("hl", "/etc/passwd")}}}, `"hl"`},
		{"hardlink through symlink", UnpackOptions{}, []layer{{true, []entry{symlink("l", "/etc"), hardlink("hl", "l/passwd")}}}, `"hl"`},
		{"whiteout through symlink", UnpackOptions{}, []layer{{true, []entry{symlink("l", "../../"), reg("l/.wh.sentinel", "")}}}, `"l/.wh.sentinel"`},
		{"size bomb", UnpackOptions{MaxBytes: 1 << 20}, []layer{{true, []entry{reg("small", "x"), reg("big", strings.Repeat("\x00", 2<<20))}}}, `"big"`},
		{"entry bomb", UnpackOptions{MaxEntries: 3}, []layer{{true, []entry{reg("1", ""), reg("2", ""), reg("3", ""), reg("4", "")}}}, `"4"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			sentinel := filepath.Join(base, "sentinel")
			os.WriteFile(sentinel, []byte("keep"), 0o644)
			layout := filepath.Join(base, "layout")
			writeLayout(t, layout, c.layers...)
			img, err := Open(layout)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(base, "out")
			os.Mkdir(out, 0o755)
			dst := filepath.Join(out, "rootfs")
			err = img.UnpackWith(dst, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.inError) {
				t.Fatalf("want an error naming %s, got %v", c.inError, err)
			}
			t.Log(err)
			// Nothing but the layout, the sentinel and the empty out.
			var seen []string
			filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
				rel, _ := filepath.Rel(base, p)
				if rel == "layout" {
					return filepath.SkipDir
				}
				seen = append(seen, rel)
				return nil
			})
			sort.Strings(seen)
			if strings.Join(seen, " ") != ". out sentinel" {
				t.Fatalf("left behind: %v", seen)
			}
			if b, _ := os.ReadFile(sentinel); string(b) != "keep" {
				t.Fatalf("sentinel: %q", b)
			}
			if _, err := os.Lstat("/etc/x"); err == nil {
				t.Fatal("/etc/x was written")
			}
		})
	}
}
