package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// busybox is the static busybox the image is built from; CI installs
// Debian's busybox-static.
const busybox = "/bin/busybox"

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%v: install Debian's busybox-static (.ci/run does)", err)
	}
}

func TestBuildIsReproducibleAndVerifies(t *testing.T) {
	needBusybox(t)
	a, b := t.TempDir(), t.TempDir()
	da, err := BuildBusybox(a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := BuildBusybox(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if da.Digest != db.Digest {
		t.Fatalf("two builds: %s and %s", da.Digest, db.Digest)
	}
	m, ref, err := Verify(a)
	if err != nil || ref != DefaultRef || len(m.Layers) != 1 {
		t.Fatalf("verify: %v, ref %q, %d layers", err, ref, len(m.Layers))
	}
	// A flipped byte in the layer is caught.
	layer := filepath.Join(a, ocispec.ImageBlobsDir, "sha256", m.Layers[0].Digest.Encoded())
	blob, _ := os.ReadFile(layer)
	blob[len(blob)/2] ^= 0xff
	if err := os.WriteFile(layer, blob, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify(a); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("corrupted layer: %v", err)
	}
}

// TestTheLayerRuns extracts the layer and runs its shell: the image works
// as a root filesystem.
func TestTheLayerRuns(t *testing.T) {
	needBusybox(t)
	dir := t.TempDir()
	if _, err := BuildBusybox(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	m, _, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.ReadFile(filepath.Join(dir, ocispec.ImageBlobsDir, "sha256", m.Layers[0].Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
		p := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(p, b, os.FileMode(h.Mode))
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"bin/busybox", "bin/sh", "etc/passwd", "proc/", "tmp/"} {
		if !names[want] {
			t.Errorf("the layer has no %s", want)
		}
	}
	out, err := exec.Command(filepath.Join(root, "bin", "sh"), "-c", "echo hello from $(basename $0)").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello from sh") {
		t.Fatalf("the image's shell: %s %v", out, err)
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	if _, err := BuildBusybox(dir, Options{Busybox: "/nonexistent/busybox"}); err == nil || !strings.Contains(err.Error(), "busybox-static") {
		t.Fatalf("missing busybox: %v", err)
	}
	notELF := filepath.Join(t.TempDir(), "busybox")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	if _, err := BuildBusybox(dir, Options{Busybox: notELF}); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Fatalf("not ELF: %v", err)
	}
	if _, err := BuildBusybox(dir, Options{Busybox: "/bin/ls"}); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Fatalf("dynamic binary: %v", err)
	}
	needBusybox(t)
	if _, err := BuildBusybox(dir, Options{Applets: []string{"../escape"}}); err == nil {
		t.Fatal("an applet with a slash was accepted")
	}
	if _, _, err := Verify(t.TempDir()); err == nil {
		t.Fatal("an empty directory verified")
	}
}

func TestWriteTar(t *testing.T) {
	needBusybox(t)
	dir := t.TempDir()
	if _, err := BuildBusybox(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTar(dir, &buf); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = true
	}
	if !seen["oci-layout"] || !seen["index.json"] || !seen["blobs/sha256/"] {
		t.Fatalf("tar entries %v", seen)
	}
}

// TestScratch: the scratch layout is reproducible, verifies, and unpacks
// to the mount points and /etc with passwd and group, nothing else.
func TestScratch(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	da, err := BuildScratch(a, ScratchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := BuildScratch(b, ScratchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if da.Digest != db.Digest {
		t.Fatalf("two builds: %s and %s", da.Digest, db.Digest)
	}
	if _, ref, err := Verify(a); err != nil || ref != ScratchRef {
		t.Fatalf("verify: %v, ref %q, want %q", err, ref, ScratchRef)
	}
	img, err := Open(a)
	if err != nil {
		t.Fatal(err)
	}
	if c := img.Config().Config; len(c.Cmd) != 0 || len(c.Entrypoint) != 0 || len(c.Env) != 0 {
		t.Errorf("config %+v: scratch has nothing to run", c)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := img.Unpack(root); err != nil {
		t.Fatal(err)
	}
	got := map[string]os.FileMode{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got[rel] = info.Mode()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		"dev": fs.ModeDir | 0o755, "etc": fs.ModeDir | 0o755, "proc": fs.ModeDir | 0o755, "sys": fs.ModeDir | 0o755,
		"tmp": fs.ModeDir | fs.ModeSticky | 0o777, "etc/passwd": 0o644, "etc/group": 0o644,
	}
	if !maps.Equal(got, want) {
		t.Errorf("unpacked tree %v, want %v", got, want)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc", "group"))
	for _, want := range []string{"root:x:0:0:", "nobody:x:65534:65534:"} {
		if !strings.Contains(string(passwd), want) {
			t.Errorf("/etc/passwd %q lacks %q", passwd, want)
		}
	}
	for _, want := range []string{"root:x:0:", "nogroup:x:65534:"} {
		if !strings.Contains(string(group), want) {
			t.Errorf("/etc/group %q lacks %q", group, want)
		}
	}
	// Another ref is honoured.
	if _, err := BuildScratch(b, ScratchOptions{Ref: "example.local/empty:1"}); err != nil {
		t.Fatal(err)
	}
	if _, ref, err := Verify(b); err != nil || ref != "example.local/empty:1" {
		t.Fatalf("verify with a ref: %v, %q", err, ref)
	}
}
