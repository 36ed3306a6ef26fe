package image

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// maxJSON caps index.json, the manifest and the config: they are read into
// memory, and a hostile image could otherwise name a huge one.
const maxJSON = 4 << 20

// Image is an opened, verified OCI image: a layout directory or a tar of
// one. Open checks the index, the manifest, the config and the digest and
// size of every layer blob; Unpack checks them again as it reads.
type Image struct {
	src      string
	store    blobStore
	manifest ocispec.Manifest
	config   ocispec.Image
	ref      string
	digest   digest.Digest
}

// Manifest returns the image's manifest.
func (i *Image) Manifest() ocispec.Manifest { return i.manifest }

// Config returns the image's configuration.
func (i *Image) Config() ocispec.Image { return i.config }

// Ref returns the reference name the index gives the manifest
// (org.opencontainers.image.ref.name), or "" when it gives none.
func (i *Image) Ref() string { return i.ref }

// Digest returns the manifest's digest.
func (i *Image) Digest() digest.Digest { return i.digest }

// Open opens the OCI image at path: a layout directory, or a tar of one
// (what WriteTar writes), which is read in place. The index must list
// exactly one manifest. Open reads and verifies the manifest and the
// config, and checks every layer blob's size and digest, so a corrupted
// or truncated image fails here, naming the blob.
func Open(path string) (*Image, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	var store blobStore
	switch {
	case fi.IsDir():
		store = dirStore(path)
	case fi.Mode().IsRegular():
		if store, err = openTarStore(path); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("open image %s: neither a layout directory nor a tar of one", path)
	}
	img, err := openStore(path, store)
	if err != nil {
		return nil, err
	}
	for _, l := range img.manifest.Layers {
		if err := checkBlob(store, l); err != nil {
			return nil, fmt.Errorf("image %s: %w", path, err)
		}
	}
	return img, nil
}

// openStore reads the index, the manifest and the config.
func openStore(src string, store blobStore) (*Image, error) {
	b, err := readAllCapped(store, ocispec.ImageIndexFile, maxJSON)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(b, &index); err != nil {
		return nil, fmt.Errorf("image %s: %s: %w", src, ocispec.ImageIndexFile, err)
	}
	if len(index.Manifests) != 1 {
		return nil, fmt.Errorf("%s: index.json lists %d manifests, want 1", src, len(index.Manifests))
	}
	md := index.Manifests[0]
	img := &Image{src: src, store: store, ref: md.Annotations[ocispec.AnnotationRefName], digest: md.Digest}
	if err := readBlobJSON(store, md, &img.manifest); err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", src, err)
	}
	if err := readBlobJSON(store, img.manifest.Config, &img.config); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", src, err)
	}
	if n, d := len(img.manifest.Layers), len(img.config.RootFS.DiffIDs); n != d {
		return nil, fmt.Errorf("%s: %d layers but %d diff IDs", src, n, d)
	}
	for i, l := range img.manifest.Layers {
		if _, err := layerCompression(l.MediaType); err != nil {
			return nil, fmt.Errorf("image %s: layer %d: %w", src, i, err)
		}
	}
	return img, nil
}

// blobStore reads the files of an image layout by their slash-separated
// names relative to the layout's root.
type blobStore interface {
	open(name string) (io.ReadCloser, int64, error)
}

func blobName(d ocispec.Descriptor) (string, error) {
	if err := d.Digest.Validate(); err != nil {
		return "", fmt.Errorf("descriptor %s: %w", d.MediaType, err)
	}
	return path.Join(ocispec.ImageBlobsDir, d.Digest.Algorithm().String(), d.Digest.Encoded()), nil
}

// openBlob opens a blob, checking that its stored size is the descriptor's.
func openBlob(store blobStore, d ocispec.Descriptor) (io.ReadCloser, error) {
	name, err := blobName(d)
	if err != nil {
		return nil, err
	}
	rc, size, err := store.open(name)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if size != d.Size {
		rc.Close()
		return nil, fmt.Errorf("blob %s: %d bytes, the descriptor says %d: the image is corrupt or truncated, rebuild or re-fetch it", d.Digest, size, d.Size)
	}
	return rc, nil
}

// verifyingReader passes a blob through, and at EOF checks its digest.
type verifyingReader struct {
	r   io.Reader
	d   ocispec.Descriptor
	v   digest.Verifier
	n   int64
	err error
}

func newVerifyingReader(r io.Reader, d ocispec.Descriptor) *verifyingReader {
	return &verifyingReader{r: r, d: d, v: d.Digest.Verifier()}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.v.Write(p[:n])
	if v.n > v.d.Size {
		v.err = fmt.Errorf("blob %s: more than the descriptor's %d bytes", v.d.Digest, v.d.Size)
		return n, v.err
	}
	if err == io.EOF {
		if v.n != v.d.Size || !v.v.Verified() {
			v.err = fmt.Errorf("blob %s: its content does not match its digest (%d bytes read, %d expected): the image is corrupt, rebuild or re-fetch it", v.d.Digest, v.n, v.d.Size)
			return n, v.err
		}
	}
	return n, err
}

// checkBlob streams a blob through its digest.
func checkBlob(store blobStore, d ocispec.Descriptor) error {
	rc, err := openBlob(store, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, newVerifyingReader(rc, d))
	return err
}

func readAllCapped(store blobStore, name string, max int64) ([]byte, error) {
	rc, size, err := store.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > max {
		return nil, fmt.Errorf("%s: %d bytes, over the %d-byte limit", name, size, max)
	}
	return io.ReadAll(io.LimitReader(rc, max))
}

func readBlobJSON(store blobStore, d ocispec.Descriptor, v any) error {
	if d.Size > maxJSON {
		return fmt.Errorf("blob %s: %d bytes, over the %d-byte limit for JSON", d.Digest, d.Size, maxJSON)
	}
	rc, err := openBlob(store, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(newVerifyingReader(rc, d))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	return nil
}

// dirStore reads a layout directory. Only regular files are read: a blob
// that is a symlink (perhaps to a host file) is refused.
type dirStore string

func (s dirStore) open(name string) (io.ReadCloser, int64, error) {
	p := filepath.Join(string(s), filepath.FromSlash(name))
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", p)
	}
	return f, fi.Size(), nil
}

// tarStore reads a tar of a layout in place: Open indexes the regular
// files' offsets once, and each read opens a section of the tar.
type tarStore struct {
	path  string
	files map[string]tarSection
}

type tarSection struct{ off, size int64 }

// maxLayoutEntries caps the entries of a layout tar.
const maxLayoutEntries = 1 << 16

func openTarStore(p string) (*tarStore, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	s := &tarStore{path: p, files: map[string]tarSection{}}
	tr := tar.NewReader(f)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("image %s: not a tar of an OCI layout: %w", p, err)
		}
		if n >= maxLayoutEntries {
			return nil, fmt.Errorf("image %s: more than %d entries: not an OCI layout", p, maxLayoutEntries)
		}
		name, err := cleanEntryName(h.Name)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", p, err)
		}
		switch h.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader:
		case tar.TypeReg:
			if _, dup := s.files[name]; dup {
				return nil, fmt.Errorf("image %s: entry %q appears twice", p, h.Name)
			}
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			s.files[name] = tarSection{off, h.Size}
		default:
			return nil, fmt.Errorf("image %s: entry %q: type %q: a layout tar holds only files and directories", p, h.Name, h.Typeflag)
		}
	}
	return s, nil
}

func (s *tarStore) open(name string) (io.ReadCloser, int64, error) {
	sec, ok := s.files[name]
	if !ok {
		return nil, 0, fmt.Errorf("%s: no %s in the tar", s.path, name)
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, 0, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, sec.off, sec.size), f}, sec.size, nil
}

// cleanEntryName checks a tar entry's name and returns it cleaned, "." for
// the root: absolute names and ".." components are refused.
func cleanEntryName(name string) (string, error) {
	if name == "" {
		return "", errors.New("an entry with an empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("entry %q: an absolute path: the image is malformed or hostile", name)
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry %q: a NUL in the name", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("entry %q: a \"..\" component: the image is malformed or hostile", name)
		}
	}
	return path.Clean(name), nil
}

// compression is a layer's compression.
type compression int

const (
	uncompressed compression = iota
	gzipped
)

// layerCompression maps a layer's media type to its compression; zstd
// and foreign types are refused.
func layerCompression(mediaType string) (compression, error) {
	switch mediaType {
	case ocispec.MediaTypeImageLayer, "application/vnd.docker.image.rootfs.diff.tar":
		return uncompressed, nil
	case ocispec.MediaTypeImageLayerGzip, "application/vnd.docker.image.rootfs.diff.tar.gzip":
		return gzipped, nil
	}
	return 0, fmt.Errorf("layer media type %q is not supported: only tar and tar+gzip layers are (re-export the image with gzip layers)", mediaType)
}

// layer opens layer i and returns its uncompressed tar stream. The stream
// checks the blob's digest and size and the config's diff ID as it is
// read: the reader returns an error, not io.EOF, at the end of a layer
// that does not match.
func (i *Image) layer(n int) (io.ReadCloser, error) {
	d := i.manifest.Layers[n]
	c, err := layerCompression(d.MediaType)
	if err != nil {
		return nil, fmt.Errorf("layer %d: %w", n, err)
	}
	diffID := i.config.RootFS.DiffIDs[n]
	if err := diffID.Validate(); err != nil {
		return nil, fmt.Errorf("layer %d: diff ID: %w", n, err)
	}
	rc, err := openBlob(i.store, d)
	if err != nil {
		return nil, fmt.Errorf("layer %d: %w", n, err)
	}
	var r io.Reader = newVerifyingReader(rc, d)
	if c == gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("layer %d (blob %s): %w", n, d.Digest, err)
		}
		r = zr
	}
	return struct {
		io.Reader
		io.Closer
	}{&diffIDReader{r: r, n: n, want: diffID, v: diffID.Verifier()}, rc}, nil
}

// diffIDReader checks an uncompressed layer against its diff ID at EOF.
// A gzip reader reads its blob to the end, so the blob's digest is
// checked by then too.
type diffIDReader struct {
	r    io.Reader
	n    int
	want digest.Digest
	v    digest.Verifier
	err  error
}

func (d *diffIDReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	d.v.Write(p[:n])
	if err == io.EOF && !d.v.Verified() {
		d.err = fmt.Errorf("layer %d: its uncompressed content does not match the config's diff ID %s: the image is corrupt, rebuild or re-fetch it", d.n, d.want)
		return n, d.err
	}
	if err != nil && err != io.EOF {
		d.err = fmt.Errorf("layer %d: %w", d.n, err)
		return n, d.err
	}
	return n, err
}

// drain reads the rest of a layer stream (a tar's trailing padding), so
// that its checks run; at most limit bytes.
func drain(r io.Reader, limit int64) error {
	n, err := io.Copy(io.Discard, io.LimitReader(r, limit))
	if err != nil {
		return err
	}
	if n == limit {
		return fmt.Errorf("more than %d bytes after the tar's end", limit)
	}
	return nil
}
