package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stratoswarm/stratoswarm/benchmarks/agents/tspsolver/solver"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue reads one sample of the text exposition format.
func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s in\n%s", series, text)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestServeAnswersAndCounts(t *testing.T) {
	g := solver.DefaultGenome()
	g.TimeBudgetMS = 0 // only the iteration count bounds a solve: the same seed gives the same tour
	srv := httptest.NewServer(newServer(g, 2).handler())
	defer srv.Close()

	code, body := post(t, srv.URL+"/solve?instance=eil51&seed=3", "")
	if code != http.StatusOK {
		t.Fatalf("solve eil51: %d %s", code, body)
	}
	var r result
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Instance != "eil51" || r.Gap == nil || len(r.Tour) != 51 {
		t.Fatalf("solve eil51: %v %s", err, body)
	}
	raw, err := os.ReadFile(eil51)
	if err != nil {
		t.Fatal(err)
	}
	code, body = post(t, srv.URL+"/solve?seed=3", string(raw))
	var r2 result
	if code != http.StatusOK || json.Unmarshal([]byte(body), &r2) != nil || r2.Length != r.Length {
		t.Errorf("the posted instance: %d %s; want the same tour length as by name (%d)", code, body, r.Length)
	}
	bad := []struct {
		path, body string
		code       int
		says       string
	}{
		{"/solve?instance=eil51&seed=-1", "", 400, "seed"},
		{"/solve?instance=nowhere", "", 404, "nowhere"},
		{"/solve", "", 400, "no instance"},
		{"/solve", "NAME: x\nTYPE: TSP\nEDGE_WEIGHT_TYPE: GEO\n", 400, "instance"},
		{"/solve", strings.Repeat("x", maxInstanceBytes+1), 413, "over"},
	}
	for _, c := range bad {
		code, body := post(t, srv.URL+c.path, c.body)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %q, want %d saying %q", c.path, code, body, c.code, c.says)
		}
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	if got := metricValue(t, text, `tspsolver_requests_total{code="200"}`); got != 2 {
		t.Errorf("200s counted %v, want 2", got)
	}
	if got := metricValue(t, text, `tspsolver_requests_total{code="400"}`); got != 3 {
		t.Errorf("400s counted %v, want 3", got)
	}
	if got := metricValue(t, text, `tspsolver_request_seconds_count`); got != 7 {
		t.Errorf("latency count %v, want 7", got)
	}
	if got := metricValue(t, text, `tspsolver_request_seconds_bucket{le="+Inf"}`); got != 7 {
		t.Errorf("+Inf bucket %v, want 7", got)
	}
	if got := metricValue(t, text, `tspsolver_gap_count`); got != 2 {
		t.Errorf("gaps counted %v, want 2", got)
	}
	if got := metricValue(t, text, `tspsolver_gap_sum`); got != 2**r.Gap {
		t.Errorf("gap sum %v, want %v", got, 2**r.Gap)
	}
}

// TestServeProcess runs the built binary: it says where it listens,
// answers, and exits 0 on SIGTERM.
func TestServeProcess(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tspsolver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stderr).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "tspsolver: serving on ")
	if err != nil || !ok {
		t.Fatalf("first line %q, %v", line, err)
	}
	code, body := post(t, "http://"+addr+"/solve?instance=berlin52", "")
	if code != http.StatusOK || !strings.Contains(body, `"instance":"berlin52"`) {
		t.Fatalf("solve: %d %s", code, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want 0", err)
	}
	// On a Unix socket (what an agent's container uses: it has no network).
	sock := filepath.Join(t.TempDir(), "http.sock")
	ucmd := exec.Command(bin, "serve", "--listen", "unix:"+sock)
	ustderr, err := ucmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ucmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer ucmd.Process.Kill()
	if line, err := bufio.NewReader(ustderr).ReadString('\n'); err != nil || !strings.Contains(line, sock) {
		t.Fatalf("first line %q, %v", line, err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Get("http://agent/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(hb) != "ok\n" {
		t.Errorf("healthz over the socket: %q", hb)
	}
	_ = ucmd.Process.Signal(syscall.SIGTERM)
	if err := ucmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	_, stderrText, code2 := exe(t, bin, "", "serve", "--max-concurrent", "0")
	if code2 != exitUsage || !strings.Contains(stderrText, "usage: tspsolver serve") {
		t.Errorf("bad flags: exit %d, %q", code2, stderrText)
	}
}
