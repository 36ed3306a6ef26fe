#!/usr/bin/env bash
# Builds every built-in plugin: each directory under plugins/ that holds a
# plugin.yaml becomes <out>/<kind>-<name>.wasm, with its manifest copied to
# <out>/<kind>-<name>.yaml (kind and name come from the manifest).
#
#   plugins/build.sh [OUT_DIR]    default: host/plugin/builtin/wasm
#
# OUT_DIR is relative to the current directory; it is created if missing.
# Modules are Go reactors: GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="${1:-$root/host/plugin/builtin/wasm}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
GO="${GO:-go}"

# field KEY FILE prints the value of a top-level "KEY: value" line of a
# manifest, without quotes or a trailing comment.
field() {
	sed -n "s/^$1:[[:space:]]*//p" "$2" | head -n1 | sed -e 's/[[:space:]]#.*$//' -e 's/[[:space:]]*$//' -e "s/^[\"']//" -e "s/[\"']\$//"
}

mapfile -t manifests < <(find "$here" -name plugin.yaml -not -path '*/testdata/*' | LC_ALL=C sort)
if [ "${#manifests[@]}" -eq 0 ]; then
	echo "build.sh: no plugin.yaml under $here" >&2
	exit 1
fi

declare -A seen=()
for manifest in "${manifests[@]}"; do
	dir="$(dirname "$manifest")"
	rel="${dir#"$root"/}"
	name="$(field name "$manifest")"
	kind="$(field kind "$manifest")"
	if ! [[ "$name" =~ ^[a-z][-a-z0-9]*$ ]]; then
		echo "build.sh: $rel/plugin.yaml: name \"$name\" must be lowercase letters, digits and '-'" >&2
		exit 1
	fi
	case "$kind" in
	strategy | trust | personality) ;;
	*)
		echo "build.sh: $rel/plugin.yaml: kind \"$kind\" is not strategy, trust or personality" >&2
		exit 1
		;;
	esac
	base="$kind-$name"
	if [ -n "${seen[$base]:-}" ]; then
		echo "build.sh: $rel and ${seen[$base]} are both $base" >&2
		exit 1
	fi
	seen[$base]="$rel"

	echo "build.sh: $rel -> $out/$base.wasm"
	(cd "$root" && GOOS=wasip1 GOARCH=wasm "$GO" build -buildmode=c-shared -trimpath -ldflags="-s -w" \
		-o "$out/$base.wasm" "./$rel")
	cp "$manifest" "$out/$base.yaml"
done
