#!/usr/bin/env bash
# Every report docs/results.md quotes for a shipped model, in one run (about an hour and a half on 2 CPU cores).
#
#   scripts/evaluate_shipped.sh CORPUS [MODEL] [REPORTS]
#
# CORPUS is a built corpus (`a2m data corpus --out CORPUS --clips 3000 --workers 2`), MODEL the
# shipped folder (default models/default; its evaluator/ is used), REPORTS where the long runs'
# reports go (default docs/results/reports, files named default_*). The model card's reports
# (eval_test*.md/json, instructions*.json) are written into MODEL. Each report is skipped when it
# already exists, so a killed run resumes where it stopped; delete a report to redo it.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=${1:?usage: scripts/evaluate_shipped.sh CORPUS [MODEL] [REPORTS]}
MODEL=${2:-models/default}
REPORTS=${3:-docs/results/reports}
A2M=${A2M:-a2m}
command -v "$A2M" >/dev/null || A2M=.venv/bin/a2m
mkdir -p "$REPORTS"

# The protocol of every table: a fixed subset of 288 test utterances, ground-truth lengths, 5 repeats.
TEST=(--model "$MODEL" --data "$CORPUS" --limit 288 --repeats 5)
MM=(--mm-conditions 10 --mm-generations 10)

run() {  # report-file command...
  local report=$1; shift
  if [[ -e $report ]]; then echo "[evaluate] $report exists, skipped"; return; fi
  echo "[evaluate] $report ($(date +%H:%M:%S))"
  local start=$SECONDS
  "$@"
  echo "[evaluate] $report done in $((SECONDS - start)) s"
}

run "$MODEL/eval_test.md" "$A2M" eval "${TEST[@]}" "${MM[@]}" --report "$MODEL/eval_test.md"
run "$MODEL/eval_test_snr10.md" "$A2M" eval "${TEST[@]}" --mm-conditions 0 --noise-snr 10 --report "$MODEL/eval_test_snr10.md"
run "$MODEL/eval_test_12khz.md" "$A2M" eval "${TEST[@]}" --mm-conditions 0 --resample-from 12000 --report "$MODEL/eval_test_12khz.md"
for style in original oral; do
  run "$MODEL/eval_test_$style.md" "$A2M" eval "${TEST[@]}" --mm-conditions 0 --styles "$style" --report "$MODEL/eval_test_$style.md"
done
run "$MODEL/instructions.json" "$A2M" eval-instructions --model "$MODEL" --voices 4 --noise-snr 10 --report "$MODEL/instructions.json"

# Voices of an engine never heard by a model trained with --engines espeak-ng (festival), and clips of several actions.
run "$MODEL/instructions_festival.json" "$A2M" eval-instructions --model "$MODEL" --voices-from festival --voices 9 --noise-snr 10 --report "$MODEL/instructions_festival.json"
run "$MODEL/eval_test_festival.md" "$A2M" eval "${TEST[@]}" --mm-conditions 0 --respeak festival --report "$MODEL/eval_test_festival.md"
run "$MODEL/eval_test_multi.md" "$A2M" eval "${TEST[@]}" --mm-conditions 0 --min-actions 2 --report "$MODEL/eval_test_multi.md"

# What the exports cost: the same utterances and noise through the float and the int8 graphs.
exports=$(mktemp -d)
trap 'rm -rf "$exports"' EXIT
for precision in float int8; do
  report="$REPORTS/default_eval_test_onnx_$precision.md"
  [[ -e $report ]] && continue
  flag=(); [[ $precision == int8 ]] && flag=(--int8)
  "$A2M" export onnx --model "$MODEL" --out "$exports/$precision" "${flag[@]}"
  run "$report" "$A2M" eval "${TEST[@]}" "${MM[@]}" --onnx "$exports/$precision" --report "$report"
done

# The paper's protocols: 20 repeats, and MultiModality over 100 conditions x 30 generations.
run "$REPORTS/default_eval_test_20repeats.md" "$A2M" eval --model "$MODEL" --data "$CORPUS" --limit 288 --repeats 20 --mm-conditions 0 --report "$REPORTS/default_eval_test_20repeats.md"
run "$REPORTS/default_eval_test_mm100x30.md" "$A2M" eval "${TEST[@]}" --mm-conditions 100 --mm-generations 30 --report "$REPORTS/default_eval_test_mm100x30.md"
echo "[evaluate] all reports in $MODEL and $REPORTS"
