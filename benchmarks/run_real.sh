#!/usr/bin/env bash
# The real run end to end (`make real`): every stage of configs/real-cpu.yaml on ../shared/corpora,
# into runs/real-cpu/. Each stage resumes: killed at any point, run this again and finished units
# (curate/dedup/synth units, trained proxies, validation runs) are not redone.
# Wall time per stage is appended to runs/real-cpu/stage_times.tsv (one row per stage per invocation).
#
#   benchmarks/run_real.sh [CONFIG]      PYTHON=... to use another interpreter (default .venv/bin/python)
#   STAGES="sweep fit" benchmarks/run_real.sh   only these stages (default: all, in order)
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=${1:-configs/real-cpu.yaml}
# Ray starts its workers at niceness 15: on a shared machine any other job then takes the proxies' cores.
export RAY_worker_niceness=${RAY_worker_niceness:-0}
PY=${PYTHON:-.venv/bin/python}
WORKDIR=$("$PY" -c "import sys; from automixer.config import load_config; print(load_config(sys.argv[1]).workdir)" "$CONFIG")
mkdir -p "$WORKDIR"
TIMES="$WORKDIR/stage_times.tsv"
[ -f "$TIMES" ] || printf 'stage\twall_s\tstarted_utc\n' > "$TIMES"

STAGES=${STAGES:-curate dedup synth sweep fit optimize report}

stage() {  # stage NAME ARGS...: run `automixer ARGS...`, record its wall time
    local name=$1; shift
    case " $STAGES " in *" $name "*) ;; *) return 0 ;; esac
    local started; started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    echo "== $name: automixer $*" >&2
    SECONDS=0
    "$PY" -m automixer.cli "$@"
    printf '%s\t%d\t%s\n' "$name" "$SECONDS" "$started" >> "$TIMES"
}

stage curate curate "$CONFIG"
stage dedup dedup "$CONFIG"
stage synth synth "$CONFIG"
stage sweep sweep "$CONFIG"
stage fit fit "$CONFIG" --out "$WORKDIR/surrogates"
stage optimize optimize "$CONFIG" --surrogate "$WORKDIR/surrogates" --out "$WORKDIR/mixture.yaml" --validate
stage report report "$CONFIG"
echo "stage times: $TIMES" >&2
column -t -s $'\t' "$TIMES" >&2 || cat "$TIMES" >&2
