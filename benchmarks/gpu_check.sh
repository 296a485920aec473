#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU and cupy: the GPU tests, a short `spacy train --gpu-id 0`
# on CoNLL04 against the same on the CPU, then training/inference/layer speed on the GPU.
# Run from the repository root, after `spacy project assets` (it reads assets/conll04):
#   bash benchmarks/gpu_check.sh
# Every step runs even if an earlier one fails; the exit status says whether any failed.
# PYTHON picks the interpreter (default python3), STEPS the training steps (default 600), LOGS
# where the training logs go (default a temporary folder).
set -uo pipefail
py="${PYTHON:-python3}"
steps="${STEPS:-600}"
logs="${LOGS:-$(mktemp -d)}"
corpus="$(mktemp -d)"
failed=0

step() {
  echo "== $*"
  "$@" || { echo "!! failed ($?): $*"; failed=1; }
}

timed_train() {
  local gpu="$1" start end
  start=$(date +%s.%N)
  "$py" -m spacy train configs/window_ner.cfg --output "$corpus/train$gpu" \
    --paths.train "$corpus/train.spacy" --paths.dev "$corpus/dev.spacy" \
    --training.max_steps "$steps" --gpu-id "$gpu" > "$logs/train$gpu.log" 2>&1 || return 1
  end=$(date +%s.%N)
  "$py" -c "import sys; print(f'spacy train, {sys.argv[1]} steps, --gpu-id {sys.argv[2]}: {float(sys.argv[4]) - float(sys.argv[3]):.1f} s')" \
    "$steps" "$gpu" "$start" "$end"
  grep -E "^ +[0-9]+ +[0-9]+ " "$logs/train$gpu.log" | tail -1
}

step "$py" -c "import cupy, spacy, thinc; print('cupy', cupy.__version__, 'spacy', spacy.__version__, 'thinc', thinc.__version__, 'gpu', spacy.prefer_gpu(0))"
step "$py" -m pytest -q -rs tests/test_gpu.py
step "$py" scripts/convert.py conll04 "$corpus"
step timed_train -1
step timed_train 0
step "$py" -m spacy benchmark speed "$corpus/train0/model-last" "$corpus/test.spacy" --gpu-id 0 --batch-size 256
step "$py" -m benchmarks.gpu
echo "logs: $logs"
exit "$failed"
