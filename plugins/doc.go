// Package plugins holds the built-in Wasm plugins, one main package per
// directory (plugins/<kind>/<name>), each written with the Go SDK
// (sdk-wasm) and described by its plugin.yaml. build.sh compiles them to
// GOOS=wasip1 reactor modules; this package's tests check that they build
// to modules of the ABI's shape and that their manifests are complete.
package plugins
