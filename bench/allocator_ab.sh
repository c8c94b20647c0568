#!/bin/bash
# Side by side in one run: `gaitline bench embed --json` with freed tensor memory kept in the
# process (GAITLINE_ALLOCATOR=keep, the default; gait/model/allocator.py) and with glibc's own rule
# (system), alternating, ROUNDS times each; prints each run's figures, then the medians as JSON.
# usage: bench/allocator_ab.sh [ROUNDS] [extra bench embed options...]
# The runs pass --no-save: bench/results/embed.json keeps the plain `gaitline bench embed` result.
set -euo pipefail
rounds=${1:-2}
shift || true
gaitline=${GAITLINE:-gaitline}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$rounds"); do
  for mode in keep system; do
    GAITLINE_ALLOCATOR=$mode "$gaitline" bench embed --json --no-save "$@" | tail -n 1 | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
by = {}
for r in runs:
    rows = {(t["profile"], t["precision"]): t["windows_per_s"] for t in r.get("table", [])}
    rows[(r["profile"], r["precision"])] = r["windows_per_s"]
    for f in r.get("fp32", []):
        rows[(f["profile"], f["precision"])] = f["windows_per_s"]
    for k, v in rows.items():
        by.setdefault(k, {}).setdefault(r["allocator"], []).append(v)
print(json.dumps({"median_windows_per_s": [
    {"profile": p, "precision": q, **{m: statistics.median(v) for m, v in modes.items()}}
    for (p, q), modes in by.items()]}))
PY
