// Package plugin is the WebAssembly plugin host of swarmd: it validates,
// compiles and runs plugins that speak the Stratoswarm plugin ABI version 1
// (sdk-wasm/ABI.md) on wazero.
//
// A Host validates uploads (Validate) and loads plugin versions (Load).
// Each loaded Plugin has its own wazero runtime with close-on-context-done
// and a memory cap, a swarm:host/v1 module holding only the granted host
// functions, and a pool of instances; stateless kinds (trust, personality)
// are called through the pool with Plugin.Call, strategies through a
// dedicated Session. Every call has a deadline. A trap, timeout, memory
// blow-up, panic or invalid response discards that instance only, is
// returned as a *Failure and is recorded as Evidence against the plugin;
// the next call gets a fresh instance and the host carries on.
package plugin
