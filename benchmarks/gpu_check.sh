#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU and cupy: the GPU tests, a short `spacy train --gpu-id 0`
# on CoNLL04 against the same on the CPU, then training/inference/layer speed on the GPU.
# Run from the repository root: bash benchmarks/gpu_check.sh
set -euo pipefail
data="${SPACY_WINDOW_NER_DATA:-../shared/data}"
out="$(mktemp -d)"
python -m pytest -q -rs tests/test_gpu.py
python scripts/convert.py conll04 "$out/corpus" 2>/dev/null || {
  mkdir -p assets/conll04 && cp "$data"/conll04/conll04_{train,dev,test}.json assets/conll04/
  python scripts/convert.py conll04 "$out/corpus"
}
for gpu in -1 0; do
  start=$(date +%s.%N)
  python -m spacy train configs/window_ner.cfg --output "$out/train$gpu" --paths.train "$out/corpus/train.spacy" \
    --paths.dev "$out/corpus/dev.spacy" --training.max_steps 600 --gpu-id "$gpu" > "$out/train$gpu.log"
  echo "spacy train, 600 steps, --gpu-id $gpu: $(echo "$(date +%s.%N) - $start" | bc) s"
done
python -m spacy benchmark speed "$out/train0/model-last" "$out/corpus/test.spacy" --gpu-id 0 --batch-size 256
python -m benchmarks.gpu
