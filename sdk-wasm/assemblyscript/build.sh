#!/usr/bin/env bash
# Builds the AssemblyScript SDK's example plugins and test guests into
# OUT_DIR:
#
#   sdk-wasm/assemblyscript/build.sh OUT_DIR
#
# gives OUT_DIR/trust-mean.wasm (+ trust-mean.yaml, its manifest),
# OUT_DIR/echo.wasm and OUT_DIR/testdata-<name>.wasm (see build.mjs). It
# runs `npm ci` first when node_modules is missing (the assemblyscript
# compiler, pinned in package-lock.json). OUT_DIR is relative to the
# current directory; it is created if missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUT_DIR" >&2
	exit 2
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "build.sh: $tool is not installed: the AssemblyScript SDK needs Node.js 18 or later with npm (e.g. apt-get install nodejs npm)" >&2
		exit 1
	fi
done
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
	echo "build.sh: Node.js $(node --version) is too old: the AssemblyScript compiler needs Node.js 18 or later" >&2
	exit 1
fi

cd "$here"
if [ ! -x node_modules/.bin/asc ]; then
	echo "build.sh: installing the AssemblyScript compiler (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
fi
node "$here/build.mjs" "$out"
