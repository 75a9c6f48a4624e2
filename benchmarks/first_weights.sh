#!/usr/bin/env bash
# The first pretrained weights (issue #9) in one device call of at most 6 minutes: JAX, no
# TensorFlow, mixed bfloat16. Measures the training throughput (float32 and bfloat16, batch 128),
# then trains g1-3branch and conv3d with their recipes on showers simulated on the fly by the
# machine's CPU cores, each for its share of the time.
#
# Every minute, and at the end, each run directory (run.json, history.csv, its newest
# checkpoint) is packed into $OUT/NAME.tar.NN parts of at most 15 MiB, because only 8 files of
# at most 16 MiB come back. Unpack here with `cat NAME.tar.* | tar -x -C RUNS`; a second call
# continues them when the unpacked runs travel in .runs/ (carry it).
#
# Environment (defaults for the device): G1_MINUTES=2.2 CONV3D_MINUTES=1.6 SHOWERS=65536
# (simulated per epoch) BENCH_STEPS=40 BATCH=(recipe's) WHEELS=.whl (empty: use what is installed)
set -u
OUT=${OUT:-/tmp/out}
RUNS=${RUNS:-/tmp/runs}
G1_MINUTES=${G1_MINUTES:-2.2}
CONV3D_MINUTES=${CONV3D_MINUTES:-1.6}
SHOWERS=${SHOWERS:-65536}
BENCH_STEPS=${BENCH_STEPS:-40}
BATCH=${BATCH:-}
WHEELS=${WHEELS-.whl}
mkdir -p "$OUT" "$RUNS"
if [ -n "$WHEELS" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
[ -d .runs ] && cp -r .runs/. "$RUNS"/
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
  python3 -c "import jax, keras; print('jax', jax.__version__, 'keras', keras.__version__,
jax.devices())"; date -u; } > "$OUT/log.txt" 2>&1

pack() {  # the runs' newest state, split into parts; old parts go only once new ones exist
  local name staging
  for name in g1-3branch conv3d; do
    [ -f "$RUNS/$name/run.json" ] || continue
    staging=$(mktemp -d)
    tar -C "$RUNS" -cf - --exclude='*.part' --exclude="$name/weights" "$name" 2>/dev/null |
        split -b 15M -d - "$staging/$name.tar."
    rm -f "$OUT/$name.tar."*
    mv "$staging"/* "$OUT"/ && rmdir "$staging"
  done
}

for precision in bfloat16 float32; do
  timeout 120 python3 benchmarks/train.py --models g1-3branch --batch 128 \
      --steps "$BENCH_STEPS" --precision "$precision" 2>&1 | grep -E '^\| g|Error' \
      >> "$OUT/log.txt"
done

( while sleep 60; do pack; done ) &
packer=$!
for run in "g1-3branch $G1_MINUTES" "conv3d $CONV3D_MINUTES"; do
  set -- $run
  python3 -m calozoo train "$1" --simulate "$SHOWERS" --epochs 10000 --precision bfloat16 \
      --max-minutes "$2" --keep-checkpoints 1 --seed 9 --resume -q ${BATCH:+--batch-size $BATCH} \
      --out "$RUNS/$1" >> "$OUT/log.txt" 2>&1
  { echo "== $1"; cat "$RUNS/$1/history.csv"; } >> "$OUT/log.txt"
done
kill "$packer" 2>/dev/null
pack
ls -l "$OUT" >> "$OUT/log.txt"
