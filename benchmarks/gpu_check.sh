#!/usr/bin/env bash
# One device call: calozoo on the lent GPU with JAX and without TensorFlow.
# Expects the keras, namex and optree wheels in .whl/ (see the device tool's README).
# Writes everything under $OUT as it goes.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/env.txt"
bench() {  # timeout models precision batch batches scale out
  timeout "$1" python3 benchmarks/generate.py --models $2 --precision "$3" --batch "$4" \
      --batches "$5" --scale "$6" --out "$OUT/$7" 2>&1 | grep -E '^\| [a-z0-9]|Error' | tee -a "$OUT/log.txt"
}
bench 60 "g1-3branch" bfloat16 1024 60 0.05 gen-g1.md
bench 90 "3dgan-angle" bfloat16 512 20 0.02 gen-angle.md
bench 50 "g2-25branch" bfloat16 1024 30 0.02 gen-g2.md
