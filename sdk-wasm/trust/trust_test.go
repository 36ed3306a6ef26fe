package trust

import (
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

type half struct{}

func (half) Score(sdk.ScoreRequest) (sdk.TrustScore, error) {
	return sdk.TrustScore{Score: 0.5, Uncertainty: 1, LowerBound: 0.05}, nil
}

func TestRegisterServesTrustScore(t *testing.T) {
	Register(func() sdk.TrustScorer { return half{} })
	t.Cleanup(func() { Register(nil) })
	got := string(sdk.Handle(sdk.OpTrustScore, []byte(`{"version":1,"now":"2026-11-25T12:00:00Z","evidence":[]}`)))
	if want := `{"v":1,"result":{"version":1,"score":0.5,"uncertainty":1,"lowerBound":0.05}}`; got != want {
		t.Fatalf("score = %s, want %s", got, want)
	}
}
