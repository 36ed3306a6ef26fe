#!/usr/bin/env bash
# Regenerates the Go code of api/ from the .proto files with pinned generators:
# protoc-gen-go, protoc-gen-go-grpc and protoc-gen-grpc-gateway are pinned as
# `tool` lines in go.mod; protoc is Debian's protobuf-compiler (3.21.x).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v protoc >/dev/null; then
  echo "protoc not found: install it with 'apt-get install protobuf-compiler'" >&2
  exit 1
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/" google.golang.org/protobuf/cmd/protoc-gen-go \
  google.golang.org/grpc/cmd/protoc-gen-go-grpc \
  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway
dir=api/stratoswarm/v1alpha1
rm -f "$dir"/*.pb.go "$dir"/*.pb.gw.go
PATH="$bin:$PATH" protoc -I api \
  --go_out=api --go_opt=paths=source_relative \
  --go-grpc_out=api --go-grpc_opt=paths=source_relative \
  --grpc-gateway_out=api --grpc-gateway_opt=paths=source_relative \
  --grpc-gateway_opt=grpc_api_configuration="$dir/http.yaml" \
  --grpc-gateway_opt=generate_unbound_methods=false \
  "$dir"/*.proto
echo "generated $(ls "$dir"/*.go | wc -l) files in $dir"
