package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Default limits of Unpack.
const (
	DefaultMaxBytes   int64 = 4 << 30
	DefaultMaxEntries       = 1 << 20
)

// whiteout names (OCI image spec, "Representing Changes").
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// maxSymlinkHops caps the symlinks followed resolving one path.
const maxSymlinkHops = 255

// UnpackOptions limit what Unpack writes; zero fields take the defaults.
type UnpackOptions struct {
	// MaxBytes caps the regular files' bytes over all layers (default
	// DefaultMaxBytes, 4 GiB).
	MaxBytes int64
	// MaxEntries caps the tar entries over all layers (default
	// DefaultMaxEntries).
	MaxEntries int
}

// Unpack is UnpackWith with the default limits.
func (i *Image) Unpack(dst string) error {
	return i.UnpackWith(dst, UnpackOptions{})
}

// UnpackWith applies the image's layers in order into the root filesystem
// directory dst, which must be absent or empty. Layers are tar or
// tar+gzip; OCI whiteouts (.wh.NAME, .wh..wh..opq) delete what lower
// layers wrote.
//
// Images may be hostile. An entry with an absolute name or a ".."
// component is refused; every parent directory of an entry is resolved
// component by component inside the tree (see resolve), and an entry
// whose path would pass through a symlink that leads out of the tree, or
// through any absolute symlink, is refused; an entry itself is never
// followed (an existing file, link or directory in its place is replaced).
// Hard links must name targets inside the tree. Device nodes and fifos are
// created (mknod) only when running as root, and skipped otherwise; owners
// are set only as root. The limits cap regular files' bytes and entries.
//
// The tree is built in a private (0700) sibling directory dst+".tmp-*"
// and renamed to dst at the end, so dst appears whole or not at all: on
// error the temporary tree is removed and dst is left as it was.
func (i *Image) UnpackWith(dst string, opts UnpackOptions) (err error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	dst = filepath.Clean(dst)
	if err := checkEmptyOrAbsent(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("unpack %s: %w", dst, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), filepath.Base(dst)+".tmp-")
	if err != nil {
		return fmt.Errorf("unpack %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	u := &unpacker{root: tmp, opts: opts, root0: os.Geteuid() == 0, dirs: map[string]dirMeta{}}
	u.dirs["."] = dirMeta{mode: 0o755}
	for n := range i.manifest.Layers {
		if err := u.layer(i, n); err != nil {
			return fmt.Errorf("unpack %s into %s: %w", i.src, dst, err)
		}
	}
	if err := u.finishDirs(); err != nil {
		return fmt.Errorf("unpack %s into %s: %w", i.src, dst, err)
	}
	if err := checkEmptyOrAbsent(dst); err != nil {
		return err
	}
	// rename(2) replaces an empty directory atomically, and fails if dst
	// was filled meanwhile (os.Rename refuses any existing directory).
	if err := unix.Rename(tmp, dst); err != nil {
		return fmt.Errorf("unpack %s: move the unpacked tree into place: %w", dst, err)
	}
	return nil
}

func checkEmptyOrAbsent(dst string) error {
	f, err := os.Open(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unpack into %s: %w", dst, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("unpack into %s: %w (it must be an empty directory, or absent)", dst, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("unpack into %s: it is not empty: remove it, or unpack elsewhere", dst)
	}
	return nil
}

// dirMeta is a directory's final metadata, applied once all layers are in
// (directories stay writable while they are filled).
type dirMeta struct {
	mode     uint32
	uid, gid int
	mtime    unix.Timespec
}

type unpacker struct {
	root    string
	opts    UnpackOptions
	root0   bool // running as root: devices and owners
	bytes   int64
	entries int
	dirs    map[string]dirMeta // by name relative to root
	// layerPaths are the names the current layer wrote: its own whiteouts
	// do not delete them.
	layerPaths map[string]bool
}

func (u *unpacker) layer(img *Image, n int) error {
	rc, err := img.layer(n)
	if err != nil {
		return err
	}
	defer rc.Close()
	u.layerPaths = map[string]bool{}
	tr := tar.NewReader(rc)
	var opaque []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("layer %d: %w", n, err)
		}
		u.entries++
		if u.entries > u.opts.MaxEntries {
			return fmt.Errorf("layer %d: entry %q: over the limit of %d entries (raise UnpackOptions.MaxEntries if the image is trusted)", n, h.Name, u.opts.MaxEntries)
		}
		// Every entry's size counts, not only regular files': the tar
		// reader reads through the data of any entry.
		if h.Size < 0 || h.Size > u.opts.MaxBytes-u.bytes {
			return fmt.Errorf("layer %d: entry %q: %d bytes would take the image over the limit of %d unpacked bytes (raise UnpackOptions.MaxBytes if the image is trusted)", n, h.Name, h.Size, u.opts.MaxBytes)
		}
		u.bytes += h.Size
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := cleanEntryName(h.Name)
		if err != nil {
			return fmt.Errorf("layer %d: %w", n, err)
		}
		dir, base := path.Split(name)
		dir = path.Clean(dir)
		if base == whiteoutOpaque {
			opaque = append(opaque, dir)
			continue
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			if err := u.whiteout(dir, strings.TrimPrefix(base, whiteoutPrefix)); err != nil {
				return fmt.Errorf("layer %d: entry %q: %w", n, h.Name, err)
			}
			continue
		}
		if err := u.entry(h, name, tr); err != nil {
			return fmt.Errorf("layer %d: entry %q: %w", n, h.Name, err)
		}
	}
	// The tar's end: read the stream out so that its digests are checked.
	if err := drain(rc, 1<<20); err != nil {
		return fmt.Errorf("layer %d: %w", n, err)
	}
	// Opaque directories: remove what lower layers put there. Done after
	// the layer, so that the entries the layer itself put there stay,
	// whatever their order in the tar.
	for _, d := range opaque {
		if err := u.opaque(d); err != nil {
			return fmt.Errorf("layer %d: entry %q: %w", n, path.Join(d, whiteoutOpaque), err)
		}
	}
	return nil
}

// resolve returns the host path of the directory rel (a cleaned name
// relative to the root), following symlinks in it only within the tree,
// and creating the directories that do not exist. Each component is
// examined with lstat: a directory is entered; a symlink is expanded in
// place, relative to the directory that holds it, where ".." may not climb
// above the root and an absolute target is refused (it points at the
// host's root, outside the tree); anything else is an error. The result
// has no symlinks in it, so it can be used with ordinary path calls: the
// tree is private to this unpack (a 0700 directory it made), so nothing
// changes it between the check and the use. Without create, a missing
// directory is an error wrapping fs.ErrNotExist.
func (u *unpacker) resolve(rel string, create bool) (string, error) {
	var cur []string // resolved components: real directories
	todo := splitPath(rel)
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return "", errors.New("a symlink in its path leads out of the root filesystem")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		next := append(append([]string(nil), cur...), c)
		p := filepath.Join(u.root, filepath.Join(next...))
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !create:
			return "", fmt.Errorf("%s: %w", path.Join(next...), fs.ErrNotExist)
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(p, 0o755); err != nil {
				return "", err
			}
			u.dirs[path.Join(next...)] = dirMeta{mode: 0o755}
			cur = next
		case err != nil:
			return "", err
		case fi.IsDir():
			cur = next
		case fi.Mode()&fs.ModeSymlink != 0:
			hops++
			if hops > maxSymlinkHops {
				return "", fmt.Errorf("more than %d symlinks in its path", maxSymlinkHops)
			}
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(target, "/") {
				return "", fmt.Errorf("its path goes through the symlink %s -> %s, which points outside the root filesystem", path.Join(next...), target)
			}
			todo = append(splitPath(target), todo...)
		default:
			return "", fmt.Errorf("%s is not a directory", path.Join(next...))
		}
	}
	return filepath.Join(u.root, filepath.Join(cur...)), nil
}

func splitPath(p string) []string { return strings.Split(p, "/") }

// parent resolves the directory holding name and returns the host path
// name will have, and that path relative to the root (slash-separated).
func (u *unpacker) parent(name string, create bool) (string, string, error) {
	dir, base := path.Split(name)
	d, err := u.resolve(path.Clean(dir), create)
	if err != nil {
		return "", "", err
	}
	p := filepath.Join(d, base)
	rel, err := filepath.Rel(u.root, p)
	if err != nil {
		return "", "", err
	}
	return p, filepath.ToSlash(rel), nil
}

// entry writes one tar entry at name, and records where it went.
func (u *unpacker) entry(h *tar.Header, name string, r io.Reader) error {
	if name == "." {
		if h.Typeflag != tar.TypeDir {
			return errors.New("the root is not a directory")
		}
		u.dirs["."] = u.meta(h)
		return nil
	}
	p, rel, err := u.parent(name, true)
	if err != nil {
		return err
	}
	u.layerPaths[rel] = true
	// Clear the way: an existing entry is replaced, never followed; an
	// existing directory stays when a directory is written over it.
	keepDir := false
	if fi, err := os.Lstat(p); err == nil {
		keepDir = fi.IsDir() && h.Typeflag == tar.TypeDir
		if !keepDir {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			u.forgetDirs(rel)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch h.Typeflag {
	case tar.TypeDir:
		if !keepDir {
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
		}
		u.dirs[rel] = u.meta(h)
		return nil
	case tar.TypeReg:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		_, err = io.CopyN(f, r, h.Size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if h.Linkname == "" {
			return errors.New("a symlink with an empty target")
		}
		// A symlink may point anywhere: it is only ever followed by
		// resolve, which keeps to the tree.
		if err := os.Symlink(h.Linkname, p); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := cleanEntryName(h.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		if target == "." {
			return errors.New("a hard link to the root")
		}
		tp, _, err := u.parent(target, false)
		if err != nil {
			return fmt.Errorf("hard link target %q: %w", h.Linkname, err)
		}
		tfi, err := os.Lstat(tp)
		if err != nil {
			return fmt.Errorf("hard link target %q: %w (it must be written before the link)", h.Linkname, err)
		}
		if tfi.IsDir() {
			return fmt.Errorf("hard link target %q is a directory", h.Linkname)
		}
		// link(2) does not follow a symlink target: the link is to the
		// symlink itself, inside the tree.
		return os.Link(tp, p)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if !u.root0 {
			return nil // unprivileged: skipped
		}
		mode := uint32(h.Mode & 0o7777)
		switch h.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		if err := unix.Mknod(p, mode, int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	default:
		return fmt.Errorf("tar entry type %q is not supported", h.Typeflag)
	}
	return u.setMeta(p, u.meta(h), h.Typeflag == tar.TypeSymlink)
}

func (u *unpacker) meta(h *tar.Header) dirMeta {
	return dirMeta{mode: uint32(h.Mode & 0o7777), uid: h.Uid, gid: h.Gid, mtime: unix.NsecToTimespec(h.ModTime.UnixNano())}
}

// setMeta sets owner (as root), mode and modification time on p, which is
// not a symlink unless symlink says so (then only owner and time).
func (u *unpacker) setMeta(p string, m dirMeta, symlink bool) error {
	if u.root0 {
		if err := os.Lchown(p, m.uid, m.gid); err != nil {
			return err
		}
	}
	if !symlink {
		// After chown, which clears set-ID bits.
		if err := unix.Fchmodat(unix.AT_FDCWD, p, m.mode, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{m.mtime, m.mtime}, unix.AT_SYMLINK_NOFOLLOW)
}

// forgetDirs drops the metadata of rel and the directories under it.
func (u *unpacker) forgetDirs(rel string) {
	for d := range u.dirs {
		if d == rel || strings.HasPrefix(d, rel+"/") {
			delete(u.dirs, d)
		}
	}
}

// whiteout deletes dir/name, unless this layer wrote it.
func (u *unpacker) whiteout(dir, name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("a whiteout of %q", name)
	}
	p, rel, err := u.parent(path.Join(dir, name), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing to delete
	}
	if err != nil {
		return err
	}
	if u.layerPaths[rel] {
		return nil
	}
	if err := os.RemoveAll(p); err != nil {
		return err
	}
	u.forgetDirs(rel)
	return nil
}

// opaque empties dir of what lower layers wrote.
func (u *unpacker) opaque(dir string) error {
	d, err := u.resolve(dir, true)
	if err != nil {
		return err
	}
	return filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == d {
			return err
		}
		r, err := filepath.Rel(u.root, p)
		if err != nil {
			return err
		}
		r = filepath.ToSlash(r)
		if u.layerPaths[r] {
			return nil
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		u.forgetDirs(r)
		if e.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
}

// finishDirs sets the directories' metadata, deepest first, so that a
// read-only directory is made so after what is under it.
func (u *unpacker) finishDirs() error {
	names := make([]string, 0, len(u.dirs))
	for d := range u.dirs {
		names = append(names, d)
	}
	sort.Slice(names, func(a, b int) bool { return strings.Count(names[a], "/") > strings.Count(names[b], "/") })
	for _, d := range names {
		p := filepath.Join(u.root, filepath.FromSlash(d))
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			continue
		}
		if err := u.setMeta(p, u.dirs[d], false); err != nil {
			return fmt.Errorf("directory %q: %w", d, err)
		}
	}
	return nil
}
