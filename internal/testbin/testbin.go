// Package testbin builds the project's programs for tests that run them
// (swarm-init for the native runtime, the static tspsolver for containers).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// root is the module's root directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Build builds the package pkg, a path from the module root such as
// "./cmd/swarm-init", into out, without cgo: what runs inside a container
// finds no libc there.
func Build(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// Agents builds what tests that run agents need into dir: swarm-init
// (named as the native runtime looks for it) and the static tspsolver.
func Agents(dir string) (init, solver string, err error) {
	init, solver = filepath.Join(dir, "swarm-init"), filepath.Join(dir, "tspsolver")
	for out, pkg := range map[string]string{init: "./cmd/swarm-init", solver: "./benchmarks/agents/tspsolver"} {
		if err := Build(out, pkg); err != nil {
			return "", "", err
		}
	}
	return init, solver, nil
}
