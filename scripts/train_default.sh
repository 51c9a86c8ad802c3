#!/usr/bin/env bash
# The shipped model's whole recipe (docs/results.md, "Training recipe"), from nothing to a folder
# shaped like models/default, on whatever this machine has (1 h 37 min on 2 CPU cores, docs/results.md).
#
#   scripts/train_default.sh RUN [EVALUATOR]
#
# RUN gets the corpora (RUN/data/corpus_m, corpus_s, corpus_u), one folder per training stage
# (RUN/rvq, RUN/condition, RUN/decoders) and the shipped folder (RUN/default). EVALUATOR is the
# evaluator shipped beside it (default models/default/evaluator, the one every table in
# docs/results.md is measured with). Rerun the same command after a kill: corpora continue where
# they stopped, training stages resume from their last checkpoint, finished stages are skipped.
# DECODERS_SEED=N trains the decoders with another seed (RUN/decoders_seedN, RUN/default_seedN),
# the way to see how much two runs of one recipe differ. Evaluate the result with
# scripts/evaluate_shipped.sh or `a2m eval-instructions --model RUN/default`.
set -euo pipefail
RUN=$(realpath -m "${1:?usage: scripts/train_default.sh RUN [EVALUATOR]}")  # paths given are the caller's
EVALUATOR=$(realpath -m "${2:-$(dirname "$0")/../models/default/evaluator}")
cd "$(dirname "$0")/.."

A2M=${A2M:-a2m}
command -v "$A2M" >/dev/null || A2M=.venv/bin/a2m
CONFIGS=training/configs
SUFFIX=${DECODERS_SEED:+_seed$DECODERS_SEED}
[[ -e $EVALUATOR/config.json ]] || { echo "[train_default] no evaluator at $EVALUATOR (pass one)" >&2; exit 2; }
mkdir -p "$RUN/data"

step() {  # name command...
  echo "[train_default] $1 ($(date +%H:%M:%S))"
  local start=$SECONDS
  "${@:2}"
  echo "[train_default] $1 done in $((SECONDS - start)) s"
}

stage() {  # stage out args...: skipped when finished (train_summary.json is written last)
  local name=$1 out=$2
  if [[ -e $out/train_summary.json ]]; then echo "[train_default] $out finished, skipped"; return; fi
  step "$name -> $out" "$A2M" train "$name" --out "$out" --resume "${@:3}"
}

# The corpora: the RVQ-VAE's, the condition's (a sit-down at the end may last), the decoders'
# (a fifth of the clips drawn to end seated). Each resumes when rerun and is quick once complete.
MEANINGS=(--clips 4000 --workers 2 --kind-weighting meanings)
step "corpus M" "$A2M" data corpus --out "$RUN/data/corpus_m" "${MEANINGS[@]}"
step "corpus S" "$A2M" data corpus --out "$RUN/data/corpus_s" "${MEANINGS[@]}" --seated-hold-s 3
step "corpus U" "$A2M" data corpus --out "$RUN/data/corpus_u" "${MEANINGS[@]}" --seated-hold-s 3 --seated-endings 0.2

stage rvq "$RUN/rvq" --data "$RUN/data/corpus_m" --config "$CONFIGS/default_rvq.yaml" --steps 2500
stage condition "$RUN/condition" --data "$RUN/data/corpus_s" --init "$RUN/rvq/model" \
  --config "$CONFIGS/embedding_condition.yaml"
seed=(); [[ -n ${DECODERS_SEED:-} ]] && seed=(--seed "$DECODERS_SEED")
stage decoders "$RUN/decoders$SUFFIX" --data "$RUN/data/corpus_u" --init "$RUN/condition/model" \
  --config "$CONFIGS/embedding_decoders.yaml" "${seed[@]}"

if [[ -e $RUN/default$SUFFIX/config.json ]]; then
  echo "[train_default] $RUN/default$SUFFIX exists, skipped"
else
  step ship "$A2M" ship --model "$RUN/decoders$SUFFIX/model" --evaluator "$EVALUATOR" --out "$RUN/default$SUFFIX"
fi
echo "[train_default] ready: $RUN/default$SUFFIX"
