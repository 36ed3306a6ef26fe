package pluginrelease

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
)

func TestRouteIsDeterministicAndRespectsTheShares(t *testing.T) {
	r := NewRouter()
	if _, _, ok := r.Route("evo-1", "random"); ok {
		t.Fatal("routed without a canary")
	}
	if err := r.Start("random", "1.0.0", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	// Started, no share yet: everything is live, on the default version.
	if v, arm, ok := r.Route("evo-1", "random"); !ok || v != "1.0.0" || arm != ArmLive {
		t.Fatalf("before any share: %s %s %v", v, arm, ok)
	}
	if _, _, ok := r.Route("evo-1", "cmaes"); ok {
		t.Fatal("another plugin was routed")
	}
	for _, shares := range [][2]int{{10, 10}, {25, 25}, {50, 50}, {5, 30}} {
		if err := r.SetShares("random", "1.1.0", shares[0], shares[1]); err != nil {
			t.Fatal(err)
		}
		const n = 40_000
		count := map[string]int{}
		for i := range n {
			name := fmt.Sprintf("evo-%d", i)
			v, arm, ok := r.Route(name, "random")
			if !ok {
				t.Fatalf("%s not routed", name)
			}
			if v2, arm2, _ := r.Route(name, "random"); v2 != v || arm2 != arm {
				t.Fatalf("%s: %s/%s then %s/%s", name, v, arm, v2, arm2)
			}
			if want := map[string]string{ArmCanary: "1.1.0", ArmBaseline: "1.0.0", ArmLive: "1.0.0"}[arm]; v != want {
				t.Fatalf("%s on arm %s runs %s, want %s", name, arm, v, want)
			}
			count[arm]++
		}
		// Binomial: 4 standard deviations of a share p over n names.
		for arm, p := range map[string]float64{ArmBaseline: float64(shares[0]) / 100, ArmCanary: float64(shares[1]) / 100, ArmLive: 1 - float64(shares[0]+shares[1])/100} {
			got := float64(count[arm]) / n
			if tol := 4 * math.Sqrt(p*(1-p)/n); math.Abs(got-p) > tol {
				t.Errorf("shares %v: arm %s got %.4f of the evolutions, want %.4f ± %.4f", shares, arm, got, p, tol)
			}
		}
	}
}

// TestArmsStayAsSharesStepUp: an evolution on the canary or the baseline
// arm at a small share is on the same arm at every larger share.
func TestArmsStayAsSharesStepUp(t *testing.T) {
	for i := range 5000 {
		name := fmt.Sprintf("e%d", i)
		first := ""
		for _, w := range []int{1, 10, 25, 50} {
			arm := Assign(Canary{Plugin: "random", Default: "1", Version: "2", Baseline: w, Canary: w}, name)
			if first == "" && arm != ArmLive {
				first = arm
			}
			if first != "" && arm != first {
				t.Fatalf("%s moved from %s to %s at %d%%", name, first, arm, w)
			}
		}
	}
	// Another canary version assigns independently.
	same := 0
	for i := range 2000 {
		name := fmt.Sprintf("e%d", i)
		a := Assign(Canary{Plugin: "random", Version: "2", Baseline: 50, Canary: 50}, name)
		b := Assign(Canary{Plugin: "random", Version: "3", Baseline: 50, Canary: 50}, name)
		if a == b {
			same++
		}
	}
	if same > 1200 || same < 800 {
		t.Fatalf("versions 2 and 3 put %d of 2000 evolutions on the same arm; want about half", same)
	}
}

func TestRouterRefusesWhatItCannotDo(t *testing.T) {
	r := NewRouter()
	for _, c := range []struct {
		err  error
		want string
	}{
		{r.Start("", "1", "2"), "needs a plugin"},
		{r.Start("random", "1", "1"), "is its default version"},
		{r.SetShares("random", "2", 10, 10), "no running canary"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", c.err, c.want)
		}
	}
	if err := r.Start("random", "1", "2"); err != nil {
		t.Fatal(err)
	}
	if err := r.Start("random", "1", "2"); err != nil {
		t.Fatalf("the same canary again: %v", err)
	}
	if err := r.Start("random", "1", "3"); err == nil || !strings.Contains(err.Error(), "already has a canary") {
		t.Fatalf("a second canary of the plugin: %v", err)
	}
	if err := r.SetShares("random", "2", 51, 10); err == nil || !strings.Contains(err.Error(), "from 0 to 50") {
		t.Fatalf("a share over 50: %v", err)
	}
	if err := r.SetShares("random", "3", 10, 10); err == nil {
		t.Fatal("shares set for another version's canary")
	}
	if r.Stop("random", "3") {
		t.Fatal("stopped another version's canary")
	}
	if c, ok := r.Get("random"); !ok || c.Version != "2" || len(r.List()) != 1 {
		t.Fatalf("get %v %v, list %v", c, ok, r.List())
	}
	if !r.Stop("random", "2") {
		t.Fatal("stop")
	}
	if _, _, ok := r.Route("e", "random"); ok || len(r.List()) != 0 {
		t.Fatal("routed after the canary stopped")
	}
}

func TestRouterIsSafeForConcurrentUse(t *testing.T) {
	r := NewRouter()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				switch g {
				case 0:
					_ = r.Start("random", "1", "2")
					_ = r.SetShares("random", "2", i%50, i%50)
				case 1:
					r.Stop("random", "2")
				default:
					r.Route(fmt.Sprint(i), "random")
					r.List()
				}
			}
		}()
	}
	wg.Wait()
}
