#!/usr/bin/env bash
# A two-node Ray cluster on one machine, and `gazecam batch --ray ADDRESS` over it.
#
#   head node:   ray start --head        --num-cpus 1 --resources '{"node_a": 1}'
#   second node: ray start --address ... --num-cpus 1 --resources '{"node_b": 1}'
#
# Each node has room for one actor (1 CPU), so the batch runs one model per node and hands the clips out
# as the actors finish; the script then prints, from OUTDIR/manifest.jsonl, how many clips each node did.
# Both nodes see the same files (one machine), which is what a real cluster needs from shared storage.
#
# Usage: bash scripts/ray_two_nodes.sh [CLIPS (default 6)]
# Env:   PYTHON (default .venv/bin/python, else python3), GAZECAM_MODEL_ARGS (default: the golden random
#        ViT-S weights in ../shared/golden when present, else the default zoo model), RAY_PORT (default 6390)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
clips=${1:-6}
py=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
ray_cli="$(dirname "$(command -v "$py" || echo "$py")")/ray"
if ! "$py" -c 'import ray' 2>/dev/null || [ ! -x "$ray_cli" ]; then
  echo "Ray is not installed for $py; install it with: pip install \"gazecam[ray]\"" >&2
  exit 1
fi
port=${RAY_PORT:-6390}
golden="$repo/../shared/golden"
if [ -n "${GAZECAM_MODEL_ARGS:-}" ]; then
  read -r -a model <<< "$GAZECAM_MODEL_ARGS"
elif [ -f "$golden/dinov2_vits14_random.pth" ]; then
  model=(--backbone dinov2_vits14 --backbone-weights "$golden/dinov2_vits14_random.pth"
         --gaze-weights "$golden/gazelle_vits14_inout_random.pt" --backend torch --detector face)
else
  model=()
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gazecam-ray2.XXXXXX")
pids=()
cleanup() {
  # stop only the two nodes this script started (each `ray start --block` takes its processes down with it)
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # the head node left its address for `ray.init()` callers: remove it when it names our (stopped) head
  local current="${TMPDIR:-/tmp}/ray/ray_current_cluster"
  if [ -f "$current" ] && grep -q ":$port\$" "$current"; then rm -f "$current"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ray's token authentication with a token made for this run (not the user's ~/.ray/auth_token)
"$py" -c 'import secrets; print(secrets.token_hex(32))' > "$work/auth_token"
chmod 600 "$work/auth_token"
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$work/auth_token"

export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 RAY_USAGE_STATS_ENABLED=0
common=(--block --num-cpus 1 --num-gpus 0 --object-store-memory 200000000 --node-ip-address 127.0.0.1
        --disable-usage-stats)
echo "== head node (1 CPU, resource node_a) on 127.0.0.1:$port"
"$ray_cli" start --head --port "$port" --include-dashboard false --resources '{"node_a": 1}' "${common[@]}" \
  > "$work/head.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do
  "$py" -c "import ray; ray.init(address='127.0.0.1:$port', logging_level='ERROR'); ray.shutdown()" \
    >/dev/null 2>&1 && break
  sleep 1
done
echo "== second node (1 CPU, resource node_b) joins 127.0.0.1:$port"
"$ray_cli" start --address "127.0.0.1:$port" --resources '{"node_b": 1}' "${common[@]}" > "$work/node_b.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do
  n=$("$py" - "$port" <<'EOF' 2>/dev/null || echo 0
import sys, ray
ray.init(address=f"127.0.0.1:{sys.argv[1]}", logging_level="ERROR")
print(sum(1 for n in ray.nodes() if n["Alive"]))
EOF
)
  [ "$n" = 2 ] && break
  sleep 1
done
[ "$n" = 2 ] || { echo "the second node did not join; logs:" >&2; tail -20 "$work"/*.log >&2; exit 1; }

"$py" scripts/make_clips.py "$work/in" --count "$clips" --frames 3
echo "== gazecam batch $work/in -o $work/out --ray 127.0.0.1:$port"
set +e
"$py" -m gazecam batch "$work/in" -o "$work/out" --ray "127.0.0.1:$port" "${model[@]}"
code=$?
set -e
echo "== exit code $code; clips per node (from the manifest, node = Ray node id):"
"$py" - "$port" "$work/out/manifest.jsonl" <<'EOF'
import collections, json, sys
import ray
ray.init(address=f"127.0.0.1:{sys.argv[1]}", logging_level="ERROR")
labels = {n["NodeID"]: ",".join(sorted(k for k in n["Resources"] if k.startswith("node_")))
          for n in ray.nodes() if n["Alive"]}
rows = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
per_node = collections.defaultdict(list)
for r in rows:
    per_node[r["node"]].append((r["input"].rsplit("/", 1)[-1], r["status"], r["frames"], r["worker"]))
for node, items in per_node.items():
    print(f"node {node[:12]}... ({labels.get(node, '?')}): {len(items)} clip(s)")
    for name, status, frames, worker in items:
        print(f"    {name}: {status}, {frames} frame(s), worker {worker}")
print(f"nodes used: {len(per_node)} of {len(labels)}")
sys.exit(0 if len(per_node) == 2 and all(r["status"] == "done" for r in rows) else 1)
EOF
exit $code
