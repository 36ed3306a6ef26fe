module github.com/stratoswarm/stratoswarm/sdk-wasm

go 1.26.0
