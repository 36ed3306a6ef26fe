// Package sdk is the Stratoswarm plugin SDK for Go plugins compiled with
// GOOS=wasip1. It has no dependencies beyond the standard library.
//
// The SDK and the ABI it implements (sdk-wasm/ABI.md) arrive with the Wasm
// plugin platform; until then this module holds only the version constant
// that the host and the SDK will share.
package sdk

// ABIVersion is the plugin ABI version this SDK implements.
const ABIVersion = 1
