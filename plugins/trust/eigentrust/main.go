// Command eigentrust is the built-in trust plugin "eigentrust": EigenTrust
// global trust over the agents' call graph (Kamvar et al., WWW 2003) decides
// how much each rater's word counts, and a Beta reputation over the weighted
// ratings gives the score, its uncertainty and its lower bound, as beta's do.
//
// The call graph arrives as evidence of kind "call" whose detail is
// {"from": ID, "to": ID}; config.subject names the agent scored. The logic
// and its formulas are in package eigentrust/eigentrust; README.md explains
// the request.
//
// Build it with plugins/build.sh (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared).
package main

import (
	"github.com/stratoswarm/stratoswarm/plugins/trust/eigentrust/eigentrust"
	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
	"github.com/stratoswarm/stratoswarm/sdk-wasm/trust"
)

func init() {
	trust.Register(func() sdk.TrustScorer { return eigentrust.Scorer{} })
}

// main never runs in a reactor module; the plugin registers in init.
func main() {}
