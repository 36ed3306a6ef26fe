// Package builtin embeds the built-in plugins that `make plugins` builds
// from plugins/ into wasm/ (as <kind>-<name>.wasm with its manifest
// <kind>-<name>.yaml), so a swarmd has them with no upload step.
package builtin

import (
	"embed"
	"io/fs"
)

//go:embed wasm
var files embed.FS

// FS returns the embedded plugins. It is empty in a build made before
// `make plugins`.
func FS() fs.FS {
	sub, err := fs.Sub(files, "wasm")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
