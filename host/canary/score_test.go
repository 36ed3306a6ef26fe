package canary

import (
	"strings"
	"testing"
)

func rows(group string, cs ...Classification) []MetricResult {
	out := make([]MetricResult, len(cs))
	for i, c := range cs {
		out[i] = MetricResult{Name: group + "-" + string(c), Group: group, Classification: c}
	}
	return out
}

// Every case up to "No Data" is a test of Kayenta's ScorerSuite
// (kayenta-judge/src/test/scala/com/netflix/kayenta/judge/ScorerSuite.scala),
// named by its test name; the rest check the newer scorer's rules
// (NodataFailMetric counts, a group without data counts 100, muted
// metrics, critical failures) and the docs' rounding and weights.
func TestScorerSuite(t *testing.T) {
	join := func(rs ...[]MetricResult) []MetricResult {
		var out []MetricResult
		for _, r := range rs {
			out = append(out, r...)
		}
		return out
	}
	muted := rows("g", High)
	muted[0].Muted = true
	critical := rows("g", High)
	critical[0].Critical = true
	for _, c := range []struct {
		name    string
		rows    []MetricResult
		weights map[string]float64
		want    float64
		reason  string
	}{
		{"Weighted Sum Group Scorer: Single Metric Pass", rows("test-group", Pass), nil, 100, ""},
		{"Weighted Sum Group Scorer: Single Metric Fail", rows("test-group", High), nil, 0, ""},
		{"Weighted Sum Group Scorer: One Group, Two Metrics", rows("test-group", Pass, High), nil, 50, ""},
		{"Weighted Sum Group Scorer: One Group, Three Metrics", rows("test-group", Pass, High, Low), nil, 33.33, ""},
		{"Weighted Sum Group Scorer: Two Groups, Three Metrics", join(rows("group-1", Pass, Pass), rows("group-2", High)),
			map[string]float64{"group-1": 75, "group-2": 25}, 75, ""},
		{"Weighted Sum Group Scorer: Two Groups, Three Metrics (Equal Weight)", join(rows("group-1", Pass, High), rows("group-2", High)),
			map[string]float64{"group-1": 50, "group-2": 50}, 25, ""},
		{"Weighted Sum Group Scorer: No Data", rows("test-group", Nodata), nil, 0, "returned Nodata"},

		{"NodataFailMetric counts as a failure", rows("g", Pass, NodataFailMetric), nil, 50, ""},
		{"Nodata and Error are left out of the group", rows("g", Pass, Pass, Pass, Nodata, Error), nil, 100, ""},
		{"a group without data counts 100", join(rows("a", Pass, High, Pass), rows("b", Nodata)), nil, 83.33, ""},
		{"half the metrics Nodata fails", join(rows("a", Pass, Pass), rows("b", Nodata, Nodata)), nil, 0, "2 of 4 metrics"},
		{"a muted High is not scored", join(rows("g", Pass), muted), nil, 100, ""},
		{"a critical High fails the canary", join(rows("g", Pass, Pass, Pass), critical), nil, 0, `critical metric "g-High" is High`},
		{"every metric muted", muted, nil, 0, "every metric is muted"},
		{"unweighted groups share what is left", join(rows("a", Pass), rows("b", High), rows("c", Pass)),
			map[string]float64{"a": 30}, 65, ""},
		{"weights below 100 cap the score", join(rows("a", Pass), rows("b", Pass)),
			map[string]float64{"a": 50, "b": 30}, 80, ""},
	} {
		got := Score(c.rows, c.weights)
		if got.Summary != c.want || !strings.Contains(got.Reason, c.reason) || (c.reason == "") != (got.Reason == "") {
			t.Errorf("%s: score %v reason %q, want %v and a reason with %q", c.name, got.Summary, got.Reason, c.want, c.reason)
		}
	}
}

func TestScoreGroups(t *testing.T) {
	s := Score(append(rows("b", Pass, High, Nodata), rows("a", Pass)...), map[string]float64{"a": 40})
	if len(s.Groups) != 2 || s.Groups[0].Name != "a" || s.Groups[1].Name != "b" {
		t.Fatalf("groups %+v", s.Groups)
	}
	a, b := s.Groups[0], s.Groups[1]
	if a.Score != 100 || a.Weight != 40 || b.Score != 50 || b.Weight != 60 || b.Counts[Nodata] != 1 || b.Counts[High] != 1 {
		t.Errorf("groups %+v", s.Groups)
	}
	if s.Summary != 70 {
		t.Errorf("summary %v, want 40·1 + 60·0.5 = 70", s.Summary)
	}
}

// Commons Math's MathUtils.round(x, 2) rounds the decimal Double.toString
// gives, halves up: 1.005 is 1.01 there, 1.0 with math.Round(x*100)/100.
func TestRoundHalfUp2(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{33.333333333333336, 33.33}, {66.66666666666667, 66.67}, {1.005, 1.01}, {2.675, 2.68},
		{-1.005, -1.01}, {100, 100}, {0, 0}, {12.344999, 12.34},
	} {
		if got := roundHalfUp2(c.x); got != c.want {
			t.Errorf("roundHalfUp2(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}

// ThresholdScoreClassifier: both thresholds are inclusive ("A score of
// exactly 95 with a pass threshold of 95 results in a pass").
func TestClassifyScore(t *testing.T) {
	th := Thresholds{Pass: 95, Marginal: 75}
	for _, c := range []struct {
		score float64
		want  Verdict
	}{{100, VerdictPass}, {95, VerdictPass}, {94.99, VerdictMarginal}, {75, VerdictMarginal}, {74.99, VerdictFail}, {0, VerdictFail}} {
		if got := ClassifyScore(c.score, th); got != c.want {
			t.Errorf("score %v: %s, want %s", c.score, got, c.want)
		}
	}
}
