#!/usr/bin/env bash
# Runs a containerd of our own for the containerd backend and its tests:
# its own config, root, state and socket under DIR, never the system's.
#
#   hack/containerd.sh start DIR   # prints the socket path; idempotent
#   hack/containerd.sh stop DIR
#
# Needs Debian's containerd and runc (apt-get install containerd runc), run
# as root. The daemon's log is DIR/containerd.log.
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop DIR" >&2
	exit 2
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
sock="$dir/containerd.sock"
pidfile="$dir/containerd.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
start)
	if running; then
		echo "$sock"
		exit 0
	fi
	command -v containerd >/dev/null || { echo "containerd is not installed: apt-get install containerd runc" >&2; exit 1; }
	cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"
TOML
	containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
	echo $! >"$pidfile"
	for _ in $(seq 100); do
		if ctr --address "$sock" version >/dev/null 2>&1; then
			echo "$sock"
			exit 0
		fi
		running || break
		sleep 0.1
	done
	echo "containerd did not come up; its log ($dir/containerd.log):" >&2
	tail -20 "$dir/containerd.log" >&2
	exit 1
	;;
stop)
	if running; then
		kill "$(cat "$pidfile")"
		for _ in $(seq 50); do running || break; sleep 0.1; done
	fi
	rm -f "$pidfile"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
