// Package buildinfo reports which build of Stratoswarm is running.
package buildinfo

import (
	"runtime"
	"runtime/debug"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
)

// Version is set at link time with
// -ldflags "-X github.com/stratoswarm/stratoswarm/host/buildinfo.Version=v0.1.0".
var Version = "v0.1.0-dev"

// APIVersion is the API package this build serves.
const APIVersion = "stratoswarm.v1alpha1"

// Get returns the running build.
func Get() *v1.Version {
	v := &v1.Version{
		Version:    Version,
		GoVersion:  runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
		ApiVersion: APIVersion,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v.GitCommit = s.Value
			}
		}
	}
	return v
}
