package perf

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/containerd"
	"github.com/stratoswarm/stratoswarm/runtime/image"
	"github.com/stratoswarm/stratoswarm/runtime/native"
)

// BenchmarkContainerTrue measures create + start + wait of /bin/true in the
// busybox test image: through our native backend, through our containerd
// backend (the containerd v2 client against our own containerd, runc
// underneath) and, in the same run, `runc run` on an OCI bundle of the
// same image (what a user would script by hand; it includes the delete).
// Metrics: native-p50-ms, native-p90-ms, native-with-delete-p50-ms,
// containerd-p50-ms, containerd-p90-ms, runc-p50-ms, runc-p90-ms, and
// runc-over-native (runc p50 over native p50 with its delete: how many
// times faster native is). At most 30 containers per path whatever b.N
// is.
func BenchmarkContainerTrue(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Fatal("needs root: it runs real containers")
	}
	for _, tool := range []string{"containerd", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s is not installed (apt-get install containerd runc)", tool)
		}
	}
	ctx := context.Background()
	dir := b.TempDir()
	script, _ := filepath.Abs(filepath.Join("..", "..", "hack", "containerd.sh"))
	out, err := exec.Command(script, "start", filepath.Join(dir, "daemon")).Output()
	if err != nil {
		b.Fatalf("hack/containerd.sh start: %v", err)
	}
	defer exec.Command(script, "stop", filepath.Join(dir, "daemon")).Run()
	ns := fmt.Sprintf("stratoswarm-bench-%d", os.Getpid())
	rt, err := containerd.New(ctx, containerd.Options{Address: strings.TrimSpace(string(out)), Namespace: ns, LogDir: filepath.Join(dir, "logs")})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	defer func() {
		// runc keeps the namespace's parent cgroups and state directory;
		// they are empty once every container is deleted.
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", ns))
		for _, d := range append(dirs, filepath.Join("/run/containerd/runc", ns)) {
			_ = os.Remove(d)
		}
	}()

	// The image, as a tar for containerd and unpacked into a bundle for runc.
	layout := filepath.Join(dir, "image")
	if _, err := image.BuildBusybox(layout, image.Options{}); err != nil {
		b.Fatal(err)
	}
	tarPath := filepath.Join(dir, "busybox.tar")
	f, _ := os.Create(tarPath)
	if err := image.WriteTar(layout, f); err != nil {
		b.Fatal(err)
	}
	f.Close()
	ref, err := rt.ImportImage(ctx, tarPath)
	if err != nil {
		b.Fatal(err)
	}
	img, err := image.Open(layout)
	if err != nil {
		b.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := img.Unpack(filepath.Join(bundle, "rootfs")); err != nil {
		b.Fatal(err)
	}
	if msg, err := exec.Command("runc", "spec", "-b", bundle).CombinedOutput(); err != nil {
		b.Fatalf("runc spec: %v %s", err, msg)
	}
	var spec map[string]any
	raw, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err := json.Unmarshal(raw, &spec); err != nil {
		b.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["args"], proc["terminal"] = []string{"/bin/true"}, false
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), raw, 0o644); err != nil {
		b.Fatal(err)
	}
	runcRoot := filepath.Join(dir, "runc-state")

	init := filepath.Join(dir, native.InitName)
	if msg, err := exec.Command("go", "build", "-o", init, "../../cmd/swarm-init").CombinedOutput(); err != nil {
		b.Fatalf("build swarm-init: %v %s", err, msg)
	}
	nrt, err := native.New(native.Options{StateDir: filepath.Join(dir, "native"), InitPath: init, CgroupParent: ns})
	if err != nil {
		b.Fatal(err)
	}
	nref, err := nrt.ImportImage(ctx, tarPath)
	if err != nil {
		b.Fatal(err)
	}

	n := min(b.N, 30)
	var viaNative, nativeWithDelete, viaContainerd, viaRunc, deletes []time.Duration
	b.ResetTimer()
	for i := range n {
		id := fmt.Sprintf("bench-%d-%d", os.Getpid(), i)
		tn := time.Now()
		if err := nrt.Create(ctx, container.Spec{ID: id, Image: nref, Command: []string{"/bin/true"}}); err != nil {
			b.Fatal(err)
		}
		if err := nrt.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		if st, err := nrt.Wait(ctx, id); err != nil || st.ExitCode != 0 {
			b.Fatalf("native wait: %v %v", st, err)
		}
		viaNative = append(viaNative, time.Since(tn))
		if err := nrt.Delete(ctx, id); err != nil {
			b.Fatal(err)
		}
		nativeWithDelete = append(nativeWithDelete, time.Since(tn))

		t0 := time.Now()
		if err := rt.Create(ctx, container.Spec{ID: id, Image: ref, Command: []string{"/bin/true"}}); err != nil {
			b.Fatal(err)
		}
		if err := rt.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		st, err := rt.Wait(ctx, id)
		if err != nil || st.ExitCode != 0 {
			b.Fatalf("wait: %v %v", st, err)
		}
		viaContainerd = append(viaContainerd, time.Since(t0))
		t1 := time.Now()
		if err := rt.Delete(ctx, id); err != nil {
			b.Fatal(err)
		}
		deletes = append(deletes, time.Since(t1))

		t2 := time.Now()
		if msg, err := exec.Command("runc", "--root", runcRoot, "run", "-b", bundle, id).CombinedOutput(); err != nil {
			b.Fatalf("runc run: %v %s", err, msg)
		}
		viaRunc = append(viaRunc, time.Since(t2))
	}
	b.StopTimer()
	pct := func(d []time.Duration, p float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
	}
	c50, c90, r50, r90 := pct(viaContainerd, 0.5), pct(viaContainerd, 0.9), pct(viaRunc, 0.5), pct(viaRunc, 0.9)
	n50, n90, nd50 := pct(viaNative, 0.5), pct(viaNative, 0.9), pct(nativeWithDelete, 0.5)
	b.ReportMetric(n50*1e6, "ns/op")
	b.ReportMetric(n50, "native-p50-ms")
	b.ReportMetric(n90, "native-p90-ms")
	b.ReportMetric(nd50, "native-with-delete-p50-ms")
	b.ReportMetric(r50/nd50, "runc-over-native")
	b.ReportMetric(c50, "containerd-p50-ms")
	b.ReportMetric(c90, "containerd-p90-ms")
	b.ReportMetric(r50, "runc-p50-ms")
	b.ReportMetric(r90, "runc-p90-ms")
	b.Logf("n=%d create+start+wait of /bin/true: native p50 %.1f ms p90 %.1f ms (with delete p50 %.1f ms); containerd backend p50 %.1f ms p90 %.1f ms (delete p50 %.1f ms); runc run with a bundle p50 %.1f ms p90 %.1f ms (incl. delete); runc/native %.1fx, containerd/native %.1fx",
		n, n50, n90, nd50, c50, c90, pct(deletes, 0.5), r50, r90, r50/nd50, c50/n50)
}
