// Command mkimage builds the container runtime's test image, an OCI image
// layout of Debian's static busybox, and the same layout as a tar for
// containerd (ctr images import). make image runs it.
//
//	go run ./hack/mkimage [--busybox /bin/busybox] [--out out/images/busybox]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stratoswarm/stratoswarm/runtime/image"
)

func main() {
	bb := flag.String("busybox", "/bin/busybox", "a static busybox (Debian busybox-static)")
	out := flag.String("out", "out/images/busybox", "the layout directory; the tar is written beside it as <out>.tar")
	flag.Parse()
	if err := run(*bb, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(bb, out string) error {
	desc, err := image.BuildBusybox(out, image.Options{Busybox: bb})
	if err != nil {
		return err
	}
	if _, _, err := image.Verify(out); err != nil {
		return err
	}
	tarPath := filepath.Clean(out) + ".tar"
	f, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	if err := image.WriteTar(out, f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("%s %s\n  layout %s\n  tar    %s\n", image.DefaultRef, desc.Digest, out, tarPath)
	return nil
}
