// Package astest tests the AssemblyScript plugin SDK (sdk-wasm/assemblyscript)
// against the real host: its tests build the SDK's example plugins and test
// guests with sdk-wasm/assemblyscript/build.sh (Node.js and npm required)
// and run them through host/plugin and host/registry. The package has no
// non-test code; it lives in the root module because sdk-wasm is a module
// of its own without the host's dependencies.
package astest
