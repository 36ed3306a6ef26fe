package tsplib

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed data/*.tsp data/optima.txt data/README.md
var data embed.FS

// Data returns the embedded data/ directory: the twenty suite instances as
// NAME.tsp, optima.txt and README.md, at the root of the returned file system
// (for example "eil51.tsp").
func Data() fs.FS {
	sub, err := fs.Sub(data, "data")
	if err != nil {
		// fs.Sub fails only for an invalid path; "data" is a constant.
		panic(fmt.Sprintf("tsplib: embedded data: %v", err))
	}
	return sub
}

// Names returns the names of the embedded instances (file names without
// .tsp), sorted by number of cities and then by name.
func Names() ([]string, error) {
	files, err := fs.Glob(Data(), "*.tsp")
	if err != nil {
		return nil, fmt.Errorf("tsplib: listing embedded instances: %w", err)
	}
	type entry struct {
		name string
		n    int
	}
	list := make([]entry, 0, len(files))
	for _, f := range files {
		name := strings.TrimSuffix(f, ".tsp")
		in, err := Load(name)
		if err != nil {
			return nil, err
		}
		list = append(list, entry{name, in.Len()})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n < list[j].n
		}
		return list[i].name < list[j].name
	})
	names := make([]string, len(list))
	for i, e := range list {
		names[i] = e.name
	}
	return names, nil
}

// Load parses the embedded instance name (for example "eil51").
func Load(name string) (*Instance, error) {
	f, err := Data().Open(path.Clean(name) + ".tsp")
	if err != nil {
		return nil, fmt.Errorf("tsplib: no embedded instance %q: %w", name, err)
	}
	defer f.Close()
	in, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("embedded %s.tsp: %w", name, err)
	}
	return in, nil
}

// KnownOptima parses the embedded optima.txt: instance name to the
// published optimal tour length.
func KnownOptima() (map[string]int, error) {
	f, err := Data().Open("optima.txt")
	if err != nil {
		return nil, fmt.Errorf("tsplib: embedded optima.txt: %w", err)
	}
	defer f.Close()
	m, err := Optima(f)
	if err != nil {
		return nil, fmt.Errorf("embedded optima.txt: %w", err)
	}
	return m, nil
}
