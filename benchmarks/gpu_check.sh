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
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import importlib.util as u; print('tensorflow installed:', u.find_spec('tensorflow') is not None)"
  python3 -c "import jax, keras, calozoo; print('jax', jax.__version__, jax.default_backend(), 'keras', keras.__version__, 'calozoo', calozoo.__version__)"
} 2>&1 | tee "$OUT/env.txt"
timeout 80 python3 -m pytest -q -x -p no:cacheprovider tests/test_generate.py 2>&1 | tail -15 | tee "$OUT/tests.txt"
for precision in bfloat16 float32; do
  timeout 100 python3 benchmarks/generate.py --precision "$precision" --batch 1024 --scale 0.1 --batches 40 \
      --models g1-3branch conv3d g3-1branch 3dgan-angle g2-25branch \
      --out "$OUT/generate-$precision.md" 2>&1 | grep -E '^\||Error|error' | tee -a "$OUT/log.txt"
done
timeout 50 python3 benchmarks/generate.py --precision bfloat16 --batch 128 --scale 1 \
    --models g1-3branch conv3d g2-25branch g3-1branch --out "$OUT/paper-bfloat16-128.md" 2>&1 \
    | grep -E '^\||Error' | tee -a "$OUT/log.txt"
