package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/image"
)

// Scratch names the empty image: a root filesystem with nothing in it,
// for static programs brought in with a bind mount (what evaluations of
// the tspsolver use).
const Scratch = "scratch"

// imageStore keeps unpacked images under dir: <digest>/rootfs and
// <digest>/config.json, and refs/<escaped name> holding a digest. An image
// is unpacked once and shared read-only by every container of it.
type imageStore struct{ dir string }

func (s imageStore) init() error {
	for _, d := range []string{filepath.Join(s.dir, "refs"), filepath.Join(s.dir, Scratch, "rootfs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("image store: %w", err)
		}
	}
	return nil
}

// imported is an unpacked image.
type imported struct {
	rootfs string
	config ocispec.ImageConfig
}

// importImage unpacks the OCI layout (directory or tar) at path unless an
// image with its digest is already there, names it by its reference and
// returns the reference (or, when it has none, the path itself).
func (s imageStore) importImage(path string) (string, error) {
	img, err := image.Open(path)
	if err != nil {
		return "", fmt.Errorf("import image: %w (build one with make image)", err)
	}
	dir := filepath.Join(s.dir, img.Digest().Encoded())
	if _, err := os.Stat(filepath.Join(dir, "config.json")); errors.Is(err, os.ErrNotExist) {
		tmp, err := os.MkdirTemp(s.dir, ".unpack-")
		if err != nil {
			return "", fmt.Errorf("import image: %w", err)
		}
		defer os.RemoveAll(tmp)
		if err := img.Unpack(filepath.Join(tmp, "rootfs")); err != nil {
			return "", fmt.Errorf("import image %s: %w", path, err)
		}
		b, err := json.Marshal(img.Config().Config)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(tmp, "config.json"), b, 0o644); err != nil {
			return "", fmt.Errorf("import image: %w", err)
		}
		if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) && !isNotEmpty(err) {
			return "", fmt.Errorf("import image: %w", err)
		}
	}
	ref := img.Ref()
	if ref == "" {
		ref = path
	}
	if err := writeAtomic(s.refPath(ref), []byte(img.Digest().Encoded())); err != nil {
		return "", fmt.Errorf("import image: name it %s: %w", ref, err)
	}
	return ref, nil
}

func (s imageStore) refPath(ref string) string {
	return filepath.Join(s.dir, "refs", url.PathEscape(ref))
}

// lookup resolves a Spec.Image: Scratch, an imported reference, or the
// absolute path of an OCI layout or tar (imported on first use).
func (s imageStore) lookup(ref string) (imported, error) {
	if ref == Scratch {
		return imported{rootfs: filepath.Join(s.dir, Scratch, "rootfs")}, nil
	}
	b, err := os.ReadFile(s.refPath(ref))
	if errors.Is(err, os.ErrNotExist) && filepath.IsAbs(ref) {
		if _, serr := os.Stat(ref); serr == nil {
			name, ierr := s.importImage(ref)
			if ierr != nil {
				return imported{}, ierr
			}
			b, err = os.ReadFile(s.refPath(name))
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return imported{}, fmt.Errorf("image %q: %w (import it first: ImportImage, or give the path of an OCI layout or tar; %q is the empty image)", ref, container.ErrImageNotFound, Scratch)
	}
	if err != nil {
		return imported{}, fmt.Errorf("image %q: %w", ref, err)
	}
	dir := filepath.Join(s.dir, string(b))
	var cfg ocispec.ImageConfig
	cb, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return imported{}, fmt.Errorf("image %q: its unpacked root is unreadable: %w (import it again)", ref, err)
	}
	if err := json.Unmarshal(cb, &cfg); err != nil {
		return imported{}, fmt.Errorf("image %q: its configuration is corrupt: %w (import it again)", ref, err)
	}
	root := filepath.Join(dir, "rootfs")
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return imported{}, fmt.Errorf("image %q: its root filesystem %s is unreadable (import it again)", ref, root)
	}
	return imported{rootfs: root, config: cfg}, nil
}

func isNotEmpty(err error) bool {
	var le *os.LinkError
	return errors.As(err, &le) && (errors.Is(le.Err, os.ErrExist) || errors.Is(le.Err, syscall.ENOTEMPTY))
}

// writeAtomic writes b to p (mode 0600) through a temporary file and a
// rename: a reader sees the old content or the new, never a mix. It does
// not sync: what it writes describes processes, which do not survive a
// reboot either (reconcile drops a record torn by one).
func writeAtomic(p string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
