// Package sdk is the Stratoswarm plugin SDK for Go plugins compiled with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared. It has no dependencies beyond
// the standard library.
//
// It implements ABI version 1 (sdk-wasm/ABI.md): the typed request and result
// schemas, the JSON envelope, the allocator exports and the buffer handling, so
// that a plugin author only writes Go against plain types and never sees a
// pointer.
//
// An author implements one of the interfaces [Strategy], [TrustScorer] or
// [Personality] and registers it from an init function through the sub-package
// of its kind, whose import adds that kind's operation exports to the module:
//
//	import (
//		sdk "github.com/stratoswarm/stratoswarm/sdk-wasm"
//		"github.com/stratoswarm/stratoswarm/sdk-wasm/strategy"
//	)
//
//	func init() { strategy.Register(func() sdk.Strategy { return &mine{} }) }
//
//	func main() {} // never runs in a reactor (-buildmode=c-shared)
//
// Registration must happen in init: a reactor's _initialize runs the package
// initialisers but not main.
//
// The package-level [Handle] is the pure core of the SDK: it takes an operation
// name and request bytes and returns envelope bytes, so everything but the thin
// wasm glue is testable natively with go test.
package sdk

// ABIVersion is the plugin ABI version this SDK implements: the module exports
// swarm_abi_v1.
const ABIVersion = 1

// SchemaVersion is the version of the request and result schemas (the
// "version" field of every request and result) this SDK speaks.
const SchemaVersion = 1

// EnvelopeVersion is the envelope version (the "v" field of every response).
const EnvelopeVersion = 1
