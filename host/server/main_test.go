package server_test

import (
	"os"
	"testing"
)

// TestMain runs the tests, or a helper process when the environment asks
// for one (restartHelper).
func TestMain(m *testing.M) {
	if dir := os.Getenv(restartHelperEnv); dir != "" {
		os.Exit(restartHelper(dir))
	}
	os.Exit(m.Run())
}
