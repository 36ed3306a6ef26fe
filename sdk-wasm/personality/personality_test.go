package personality

import (
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

type calm struct{}

func (calm) Adjust(sdk.AdjustRequest) (sdk.Adjustment, error) {
	return sdk.Adjustment{MutationBias: 0.1, ResourceHeadroom: 0.2, CanaryPace: 0.3}, nil
}

func TestRegisterServesAdjust(t *testing.T) {
	Register(func() sdk.Personality { return calm{} })
	t.Cleanup(func() { Register(nil) })
	got := string(sdk.Handle(sdk.OpPersonalityAdjust, []byte(`{"version":1,"role":"solver"}`)))
	if want := `{"v":1,"result":{"version":1,"mutationBias":0.1,"resourceHeadroom":0.2,"canaryPace":0.3}}`; got != want {
		t.Fatalf("adjust = %s, want %s", got, want)
	}
}
