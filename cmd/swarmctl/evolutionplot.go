package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/evolve"
)

// plotWidth and plotHeight are the size of `evolution plot` images; PNG is
// rendered at 96 dpi (about 756×454 pixels).
const (
	plotWidth  = 20 * vg.Centimeter
	plotHeight = 12 * vg.Centimeter
)

// generationStat is the score of one generation's evaluated candidates.
type generationStat struct {
	Generation int32 `json:"generation"`
	// Evaluated is how many candidates of the generation have a score.
	Evaluated int `json:"evaluated"`
	// Best and Median are over this generation's candidates; BestSoFar
	// over this and all earlier generations.
	Best      float64 `json:"best"`
	Median    float64 `json:"median"`
	BestSoFar float64 `json:"bestSoFar"`
}

// generationStats computes, per generation that has candidates with a
// score that compares under r, the best and median score and the best so
// far. Candidates without one (proposed, failed, rejected, stopped at an
// earlier stage) and the baseline are left out. The result is ordered by
// generation.
func generationStats(cands []*v1.Candidate, r scoreRule) []generationStat {
	byGen := map[int32][]float64{}
	for _, c := range cands {
		if c.GetMetadata().GetName() == evolve.BaselineCandidate {
			continue
		}
		if v, ok := r.score(c); ok {
			g := c.GetSpec().GetGeneration()
			byGen[g] = append(byGen[g], v)
		}
	}
	gens := make([]int32, 0, len(byGen))
	for g := range byGen {
		gens = append(gens, g)
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i] < gens[j] })
	out := make([]generationStat, 0, len(gens))
	for i, g := range gens {
		scores := byGen[g]
		sort.Float64s(scores)
		st := generationStat{Generation: g, Evaluated: len(scores), Median: median(scores)}
		st.Best = scores[0]
		if r.better(scores[len(scores)-1], scores[0]) {
			st.Best = scores[len(scores)-1]
		}
		st.BestSoFar = st.Best
		if i > 0 && r.better(out[i-1].BestSoFar, st.Best) {
			st.BestSoFar = out[i-1].BestSoFar
		}
		out = append(out, st)
	}
	return out
}

// baselineScore is the baseline candidate's score under r, if it has one.
func baselineScore(cands []*v1.Candidate, r scoreRule) (float64, bool) {
	for _, c := range cands {
		if c.GetMetadata().GetName() == evolve.BaselineCandidate {
			return r.score(c)
		}
	}
	return 0, false
}

// median is the median of sorted, non-empty values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// plotFormat is the image format for a file name: png or svg.
func plotFormat(file string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(file)); ext {
	case ".png", ".svg":
		return ext[1:], nil
	default:
		return "", usagef("--out %q: want a file ending in .png or .svg", file)
	}
}

// plotData is what `evolution plot` draws, and prints with -o json.
type plotData struct {
	Title     string `json:"title"`
	Objective string `json:"objective"`
	// Maximize: higher scores are better.
	Maximize    bool             `json:"maximize"`
	Generations []generationStat `json:"generations"`
	// Baseline is the score of the suite's incumbent design, if evaluated.
	Baseline *float64 `json:"baseline,omitempty"`
}

// newPlotData prepares the plot of ev's candidates under r.
func newPlotData(ev *v1.Evolution, cands []*v1.Candidate, r scoreRule) plotData {
	d := plotData{Title: plotTitle(ev), Objective: r.objective, Maximize: r.dir == v1.Objective_MAXIMIZE, Generations: generationStats(cands, r)}
	if v, ok := baselineScore(cands, r); ok {
		d.Baseline = &v
	}
	return d
}

// plotSeries is one line of the plot.
type plotSeries struct {
	name   string
	xys    plotter.XYs
	color  color.Color
	dashes []vg.Length
	points bool
}

// renderPlot draws best-so-far and median per generation, and the
// baseline as a horizontal line, and writes the image in format (png or
// svg) to w.
func renderPlot(w io.Writer, d plotData, format string) error {
	stats := d.Generations
	if len(stats) == 0 {
		return errors.New("nothing to plot")
	}
	p := plot.New()
	p.Title.Text = d.Title
	p.X.Label.Text = "generation"
	way := "lower is better"
	if d.Maximize {
		way = "higher is better"
	}
	p.Y.Label.Text = fmt.Sprintf("%s (%s)", d.Objective, way)
	p.Add(plotter.NewGrid())
	first, last := float64(stats[0].Generation), float64(stats[len(stats)-1].Generation)
	if first == last {
		first, last = first-1, last+1
		p.X.Min, p.X.Max = first, last
	}
	bestXY := make(plotter.XYs, len(stats))
	medianXY := make(plotter.XYs, len(stats))
	for i, s := range stats {
		bestXY[i] = plotter.XY{X: float64(s.Generation), Y: s.BestSoFar}
		medianXY[i] = plotter.XY{X: float64(s.Generation), Y: s.Median}
	}
	series := []plotSeries{
		{"best so far", bestXY, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, nil, true},
		{"median of generation", medianXY, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, []vg.Length{vg.Points(4), vg.Points(3)}, true},
	}
	if d.Baseline != nil {
		series = append(series, plotSeries{"baseline (incumbent design)", plotter.XYs{{X: first, Y: *d.Baseline}, {X: last, Y: *d.Baseline}},
			color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}, []vg.Length{vg.Points(1), vg.Points(2)}, false})
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, xy := range s.xys {
			lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
		}
	}
	logY := useLogScale(lo, hi)
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.Y.Label.Text += ", log scale"
	}
	for _, s := range series {
		line, err := plotter.NewLine(s.xys)
		if err != nil {
			return err
		}
		line.Color, line.Width, line.Dashes = s.color, vg.Points(1.5), s.dashes
		thumbs := []plot.Thumbnailer{line}
		p.Add(line)
		if s.points {
			points, err := plotter.NewScatter(s.xys)
			if err != nil {
				return err
			}
			points.Color = s.color
			p.Add(points)
			thumbs = append(thumbs, points)
		}
		p.Legend.Add(s.name, thumbs...)
	}
	// the legend sits top right, above the data: leave it room
	p.Legend.Top = true
	p.X.Tick.Marker = plot.TickerFunc(generationTicks)
	p.Y.Min, p.Y.Max = yRange(lo, hi, logY)
	wt, err := p.WriterTo(plotWidth, plotHeight, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

// useLogScale reports whether scores from lo to hi, all positive and at
// least two decades apart, read better on a log axis.
func useLogScale(lo, hi float64) bool {
	return lo > 0 && hi/lo >= 100
}

// yRange pads lo..hi: a little below, and above by a quarter of the plot
// for the legend (in decades on a log axis).
func yRange(lo, hi float64, logY bool) (float64, float64) {
	if logY {
		decades := math.Log10(hi / lo)
		return lo / math.Pow(10, decades*0.05), hi * math.Pow(10, decades*0.35)
	}
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(lo)*0.2, 1)
	}
	return lo - span*0.05, hi + span*0.35
}

// generationTicks marks whole generations, at most about ten, in steps of
// 1, 2 or 5 times a power of ten.
func generationTicks(lo, hi float64) []plot.Tick {
	step := 1.0
	for i := 0; (hi-lo)/step > 10; i++ {
		step = []float64{1, 2, 5}[(i+1)%3] * math.Pow(10, float64((i+1)/3))
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatInt(int64(v), 10)})
	}
	return ticks
}

// plotTitle names the evolution, its strategy and its suite.
func plotTitle(ev *v1.Evolution) string {
	return fmt.Sprintf("evolution %s: strategy %s, suite %s", ev.GetMetadata().GetName(), pluginRef(ev.GetSpec().GetStrategy()), orNone(ev.GetSpec().GetSuite()))
}

// newEvolutionPlotCmd is `swarmctl evolution plot`.
func newEvolutionPlotCmd(o *options) *cobra.Command {
	var out, objective string
	cmd := &cobra.Command{
		Use:   "plot NAME --out FILE.svg|FILE.png",
		Short: "Plot the best-so-far and median score per generation",
		Long: `Draw a line plot of an evolution's progress: per generation, the best score
so far and the median score of that generation's evaluated candidates, for the
primary objective or --objective, in the objective's direction. The image is
PNG or SVG by the extension of --out. Only candidates evaluated on the whole
suite (through the last stage) count, as for the evolution's best; the
baseline (the suite's incumbent design, when the evolution has one) is drawn
as a horizontal line. -o json or yaml prints the plotted numbers.`,
		Example: `  swarmctl evolution plot demo --out demo.svg
  swarmctl evolution plot tsp --out tsp-time.png --objective time`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: o.completeEvolutions(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("evolution plot needs --out FILE.svg or --out FILE.png")
			}
			format, err := plotFormat(out)
			if err != nil {
				return err
			}
			c, err := o.connect(false)
			if err != nil {
				return err
			}
			defer c.Close()
			ev, cands, err := evolutionArchive(cmd.Context(), c.evolutions(), args[0])
			if err != nil {
				return err
			}
			obj, err := o.pickObjective(ev, objective, cands)
			if err != nil {
				return err
			}
			d := newPlotData(ev, cands, newScoreRule(ev, obj))
			if len(d.Generations) == 0 {
				return fmt.Errorf("evolution %s has no candidate evaluated on the whole suite with a %s score yet (%d candidates)", args[0], obj.GetName(), len(cands))
			}
			var buf bytes.Buffer
			if err := renderPlot(&buf, d, format); err != nil {
				return fmt.Errorf("plot %s: %w", out, err)
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return err
			}
			if o.output != outputTable {
				raw, err := json.Marshal(d)
				if err != nil {
					return err
				}
				return writeStructured(o.out, o.output, raw)
			}
			fmt.Fprintf(o.out, "wrote %s: %s over %d generations\n", out, obj.GetName(), len(d.Generations))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "image file to write, .png or .svg")
	cmd.Flags().StringVar(&objective, "objective", "", "objective to plot (default: the primary one); NAME:min|max for a score the evolution does not declare")
	_ = cmd.MarkFlagFilename("out", "png", "svg")
	return cmd
}
