package strategy

import (
	"encoding/json"
	"strings"
	"testing"

	sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
)

type one struct{ sdk.Strategy }

func (one) Init(sdk.InitRequest) error { return nil }

func TestRegisterServesStrategyOperations(t *testing.T) {
	Register(func() sdk.Strategy { return one{} })
	t.Cleanup(func() { Register(nil) })
	got := string(sdk.Handle(sdk.OpStrategyInit, []byte(`{"version":1,"space":{"parameters":[]}}`)))
	if got != `{"v":1,"result":{"version":1}}` {
		t.Fatalf("init = %s", got)
	}
	Register(nil)
	var e struct{ Error sdk.Error }
	_ = json.Unmarshal(sdk.Handle(sdk.OpStrategyInit, []byte(`{"version":1}`)), &e)
	if e.Error.Code != sdk.CodeUnimplemented || !strings.Contains(e.Error.Message, "strategy.Register") {
		t.Fatalf("after Register(nil): %+v", e.Error)
	}
}
