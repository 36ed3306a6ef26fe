// Package tsplib reads symmetric EUC_2D instances in the TSPLIB format
// (G. Reinelt, ORSA Journal on Computing 3(4), 1991), measures tours with the
// TSPLIB distance rule, and embeds the twenty instances of the tsplib suite
// with their published optima (see Data).
package tsplib

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Instance is a parsed EUC_2D instance. City i (0-based) has coordinates
// X[i], Y[i] and is node i+1 in the file.
type Instance struct {
	// Name is the NAME field of the file.
	Name string
	// X and Y are the node coordinates, indexed by node id - 1.
	X, Y []float64
}

// Len returns the number of cities.
func (in *Instance) Len() int { return len(in.X) }

// Dist returns the EUC_2D distance between cities i and j (0-based): the
// Euclidean distance rounded to the nearest integer, nint(sqrt(dx²+dy²)).
func (in *Instance) Dist(i, j int) int {
	dx, dy := in.X[i]-in.X[j], in.Y[i]-in.Y[j]
	return int(math.Sqrt(dx*dx+dy*dy) + 0.5)
}

// TourLength returns the length of the closed tour visiting the 0-based
// cities in order and returning to the first. It does not check the tour;
// see ValidTour.
func (in *Instance) TourLength(tour []int) int {
	if len(tour) == 0 {
		return 0
	}
	total := 0
	prev := tour[len(tour)-1]
	for _, c := range tour {
		total += in.Dist(prev, c)
		prev = c
	}
	return total
}

// ValidTour reports whether tour is a permutation of the 0-based cities
// 0..Len()-1, and if not, what is wrong with it.
func (in *Instance) ValidTour(tour []int) error {
	n := in.Len()
	if len(tour) != n {
		return fmt.Errorf("tour has %d cities, instance %s has %d", len(tour), in.Name, n)
	}
	seen := make([]bool, n)
	for i, c := range tour {
		if c < 0 || c >= n {
			return fmt.Errorf("tour position %d: city %d is outside [0, %d)", i, c, n)
		}
		if seen[c] {
			return fmt.Errorf("tour position %d: city %d appears twice", i, c)
		}
		seen[c] = true
	}
	return nil
}

// Parse reads a TSPLIB file with EDGE_WEIGHT_TYPE EUC_2D. It accepts
// "KEY: value" and "KEY : value" header lines, ignores header keys it does
// not need (COMMENT, and others), requires NAME, DIMENSION, EDGE_WEIGHT_TYPE
// EUC_2D and a NODE_COORD_SECTION with one "id x y" line per node id
// 1..DIMENSION, and stops at EOF (a missing EOF after the last node is
// tolerated). Errors name the line.
func Parse(r io.Reader) (*Instance, error) {
	p := parser{dim: -1}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		p.line++
		done, err := p.feed(strings.TrimSpace(sc.Text()))
		if err != nil {
			return nil, fmt.Errorf("tsplib: line %d: %w", p.line, err)
		}
		if done {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tsplib: reading line %d: %w", p.line+1, err)
	}
	return p.finish()
}

// parser holds the state of one Parse call.
type parser struct {
	line     int
	name     string
	dim      int
	ewt      string
	inCoords bool
	count    int
	seen     []bool
	x, y     []float64
}

// feed handles one trimmed line; done reports that EOF was read.
func (p *parser) feed(s string) (done bool, err error) {
	if s == "" {
		return false, nil
	}
	if s == "EOF" {
		return true, nil
	}
	if p.inCoords {
		if p.count == p.dim {
			return false, fmt.Errorf("%q after all %d nodes (expected EOF)", s, p.dim)
		}
		return false, p.node(s)
	}
	key, val, hasColon := strings.Cut(s, ":")
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	switch key {
	case "NAME":
		p.name = val
	case "TYPE":
		if val != "TSP" {
			return false, fmt.Errorf("TYPE %q is not supported (want TSP)", val)
		}
	case "DIMENSION":
		d, err := strconv.Atoi(val)
		if err != nil || d < 1 {
			return false, fmt.Errorf("DIMENSION %q is not a positive integer", val)
		}
		p.dim = d
	case "EDGE_WEIGHT_TYPE":
		if val != "EUC_2D" {
			return false, fmt.Errorf("EDGE_WEIGHT_TYPE %q is not supported (want EUC_2D)", val)
		}
		p.ewt = val
	case "NODE_COORD_SECTION":
		if p.dim < 0 {
			return false, fmt.Errorf("NODE_COORD_SECTION before DIMENSION")
		}
		if p.ewt == "" {
			return false, fmt.Errorf("NODE_COORD_SECTION before EDGE_WEIGHT_TYPE")
		}
		p.inCoords = true
		p.seen = make([]bool, p.dim)
		p.x, p.y = make([]float64, p.dim), make([]float64, p.dim)
	default:
		if !hasColon {
			return false, fmt.Errorf("unsupported section or keyword %q", key)
		}
		// Other specification keys (COMMENT, CAPACITY, DISPLAY_DATA_TYPE, ...)
		// do not change an EUC_2D instance.
	}
	return false, nil
}

// node parses one "id x y" line of NODE_COORD_SECTION.
func (p *parser) node(s string) error {
	f := strings.Fields(s)
	if len(f) != 3 {
		return fmt.Errorf("node line %q: want \"id x y\"", s)
	}
	id, err := strconv.Atoi(f[0])
	if err != nil {
		return fmt.Errorf("node id %q is not an integer", f[0])
	}
	if id < 1 || id > p.dim {
		return fmt.Errorf("node id %d is outside [1, %d]", id, p.dim)
	}
	if p.seen[id-1] {
		return fmt.Errorf("node id %d appears twice", id)
	}
	var xy [2]float64
	for k, v := range f[1:] {
		c, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(c) || math.IsInf(c, 0) {
			return fmt.Errorf("node %d: coordinate %q is not a finite number", id, v)
		}
		xy[k] = c
	}
	p.seen[id-1] = true
	p.x[id-1], p.y[id-1] = xy[0], xy[1]
	p.count++
	return nil
}

// finish checks that the header and all nodes were read.
func (p *parser) finish() (*Instance, error) {
	switch {
	case p.name == "":
		return nil, fmt.Errorf("tsplib: line %d: end of input without a NAME", p.line)
	case p.dim < 0:
		return nil, fmt.Errorf("tsplib: line %d: end of input without a DIMENSION", p.line)
	case p.ewt == "":
		return nil, fmt.Errorf("tsplib: line %d: end of input without EDGE_WEIGHT_TYPE", p.line)
	case !p.inCoords:
		return nil, fmt.Errorf("tsplib: line %d: end of input without a NODE_COORD_SECTION", p.line)
	case p.count < p.dim:
		return nil, fmt.Errorf("tsplib: line %d: NODE_COORD_SECTION has %d of %d nodes", p.line, p.count, p.dim)
	}
	return &Instance{Name: p.name, X: p.x, Y: p.y}, nil
}

// Optima parses an optima list such as data/optima.txt: one "name : length"
// per line; blank lines and lines starting with # are skipped. Errors name
// the line.
func Optima(r io.Reader) (map[string]int, error) {
	out := map[string]int{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		name, val, ok := strings.Cut(s, ":")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" {
			return nil, fmt.Errorf("optima: line %d: %q: want \"name : length\"", line, s)
		}
		v, err := strconv.Atoi(val)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("optima: line %d: length %q of %s is not a positive integer", line, val, name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("optima: line %d: %s appears twice", line, name)
		}
		out[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("optima: reading line %d: %w", line+1, err)
	}
	return out, nil
}
