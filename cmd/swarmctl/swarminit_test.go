package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// provideSwarmInit builds swarm-init into a temporary directory and puts
// it first on PATH, as make build puts it beside swarmctl: local mode's
// swarmd then has its native runtime, and says nothing about a missing
// one on stderr. The returned function removes the directory.
func provideSwarmInit() (func(), error) {
	dir, err := os.MkdirTemp("", "swarmctl-test-init-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		cleanup()
		return nil, err
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "swarm-init"), "./cmd/swarm-init")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		cleanup()
		return nil, fmt.Errorf("build swarm-init: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		cleanup()
		return nil, err
	}
	return cleanup, nil
}
