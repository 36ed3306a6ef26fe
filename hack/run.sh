#!/usr/bin/env bash
# The main job (make run): evolve the example TSP solver, then release the
# winner as a canary of the running incumbent agent under generated live
# traffic, and print each step of the rollout until it is promoted or
# rolled back.
#
#   hack/run.sh BIN DATA_DIR
#
# Settings (environment):
#   RUN_STRATEGY, RUN_EVALUATIONS, RUN_SEED  the evolution (random, 16, 1)
#   RUN_WORSE=1   canary a deliberately worse design instead of the winner
#                 (nearest-neighbour tours with only swap moves: 13-20% above the
#                 optimum where the default design gets 1-2%): it is rolled back.
#   RUN_INTERVAL  the canary's analysis interval (default 5s)
#
# It starts its own swarmd on DATA_DIR (wiped first) with ports the kernel
# picks, and stops it at the end. Needs root (agents run in containers).
set -euo pipefail
bin=${1:?usage: hack/run.sh BIN DATA_DIR}
dir=${2:?usage: hack/run.sh BIN DATA_DIR}
bin=$(cd "$bin" && pwd)
strategy=${RUN_STRATEGY:-random}
evaluations=${RUN_EVALUATIONS:-16}
seed=${RUN_SEED:-1}
interval=${RUN_INTERVAL:-5s}
evo="tsp-$strategy-$seed"

if [ "$(id -u)" != 0 ]; then
  echo "make run starts agents in containers (namespaces, cgroups, mounts): run it as root" >&2
  exit 1
fi
rm -rf "$dir"
mkdir -p "$dir"
log="$dir/swarmd.log"

step() { printf '\n==> %s\n' "$*"; }

step "starting swarmd on $dir (log: $log)"
"$bin/swarmd" --data-dir "$dir/data" --grpc-addr 127.0.0.1:0 --http-addr "" --log-format json 2>"$log" &
swarmd=$!
load=""
cleanup() {
  [ -n "$load" ] && kill "$load" 2>/dev/null && wait "$load" 2>/dev/null || true
  kill "$swarmd" 2>/dev/null && wait "$swarmd" 2>/dev/null || true
}
trap cleanup EXIT
addr=""
for _ in $(seq 1 300); do
  addr=$(grep -o '"msg":"swarmd started".*"grpc":"[^"]*"' "$log" 2>/dev/null | sed 's/.*"grpc":"\([^"]*\)"/\1/' || true)
  [ -n "$addr" ] && break
  kill -0 "$swarmd" 2>/dev/null || { echo "swarmd exited; its log:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "swarmd did not start within 30 s; its log is $log" >&2; exit 1; }
ctl() { "$bin/swarmctl" --server "$addr" --token "$(cat "$dir/data/token")" "$@"; }
ctl version

step "evolving the TSP solver: strategy $strategy, $evaluations evaluations, seed $seed"
ctl evolution start "$evo" --suite tsplib --strategy "$strategy" \
  --max-evaluations "$evaluations" --batch-size 8 --parallelism 2 --seed "$seed" \
  --stage first:small:0.02 --stage all:full:0
ctl evolution leaderboard "$evo"

step "deploying the incumbent: agent tsp, v1 with the default design, 2 replicas"
ctl agent create -f - <<EOF
metadata:
  name: tsp
spec:
  role: solver
  image: scratch
  command: [/opt/stratoswarm/tspsolver, serve]
  mounts: [{source: $bin/tspsolver, target: /opt/stratoswarm/tspsolver, readOnly: true}]
  replicas: 2
  resources: {memoryBytes: 268435456}
EOF
for _ in $(seq 1 600); do
  phase=$(ctl agent describe tsp -o json | sed -n 's/.*"phase": *"\([A-Za-z]*\)".*/\1/p' | head -1)
  [ "$phase" = Running ] && break
  [ "$phase" = Failed ] && { ctl agent describe tsp; exit 1; }
  sleep 0.1
done
target=$(ctl agent describe tsp -o json | sed -n 's/.*"address": *"\([^"]*\)".*/\1/p' | head -1)
[ -n "$target" ] || { echo "agent tsp did not start: swarmctl agent describe tsp says why" >&2; ctl agent describe tsp; exit 1; }
ctl agent ls

step "generating live traffic to $target (tspsolver load)"
"$bin/tspsolver" load --target "$target" --concurrency 2 > "$dir/load.txt" &
load=$!

# The judge: tour quality (the gap to the optimum, what the evolution
# optimised) must not get worse, and it is critical. Latency is muted:
# shown in every decision's table but not scored, since the evolved designs
# buy their shorter tours with longer searches (their time budget); a real
# release would state its latency objective as allow=RATIO instead.
metrics=(--metric tspsolver_gap_mean:increase:critical
         --metric tspsolver_request_seconds_mean:increase:muted)
if [ "${RUN_WORSE:-0}" = 1 ]; then
  step "releasing a deliberately worse design (RUN_WORSE=1: nearest-neighbour tours with only swap moves)"
  cat > "$dir/worse.json" <<'EOF'
{"construction": "nearest_neighbor", "improvements": ["swap"], "max_iterations": 0}
EOF
  source=(--genome-file "$dir/worse.json")
else
  step "releasing the evolution's best candidate as a canary of tsp"
  source=(--evolution "$evo")
fi
ctl canary create release --agent tsp "${source[@]}" "${metrics[@]}" \
  --steps 25,50 --interval "$interval" --min-samples 10
status=0
ctl canary watch release --timeout 10m || status=$?
ctl canary describe release
kill "$load" 2>/dev/null && wait "$load" 2>/dev/null || true
load=""
cat "$dir/load.txt"
ctl agent ls
if [ "${RUN_WORSE:-0}" = 1 ]; then
  # The worse design must have been rolled back: that is the demonstration.
  [ "$status" != 0 ] && { step "the worse design was rolled back; v1 keeps serving"; exit 0; }
  echo "the worse design was not rolled back" >&2
  exit 1
fi
exit "$status"
