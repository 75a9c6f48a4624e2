#!/usr/bin/env bash
# The first pretrained weights (issue #9) in one device call of at most 6 minutes: JAX, no
# TensorFlow, mixed bfloat16. Measures the training throughput (float32 and bfloat16, batch 128),
# then trains g1-3branch and conv3d with their recipes on showers simulated on the fly by the
# machine's CPU cores, each for its share of the time.
#
# Every minute, and at the end, each run directory (run.json, history.csv, its newest
# checkpoint, and at the end its weights/ with their record) is packed into $OUT/NAME.tar.NN
# parts of at most 15 MiB, because only 8 files of at most 16 MiB (64 MiB in all) come back:
# g1-3branch packs to about 45 MB, conv3d to about 11 MB. Unpack here with
# `cat NAME.tar.* | tar -x -C RUNS`; a second call continues them when the unpacked runs
# travel in .runs/ (carry it).
#
# Environment (defaults for the device): G1_MINUTES=1.8 CONV3D_MINUTES=1.2 SHOWERS=100000
# (simulated per epoch) BENCH_STEPS=40 BENCH_BATCH=128 BATCH=(recipe's) WHEELS=.whl (empty:
# use what is installed). Worst case with the defaults: ~10 s set-up, 2 × 55 s benchmarks,
# each training its minutes + 20 s (a hard stop; finished epochs stay checkpointed): ~5.7 min.
set -u -o pipefail
OUT=${OUT:-/tmp/out}
RUNS=${RUNS:-/tmp/runs}
G1_MINUTES=${G1_MINUTES:-1.8}
CONV3D_MINUTES=${CONV3D_MINUTES:-1.2}
SHOWERS=${SHOWERS:-100000}
BENCH_STEPS=${BENCH_STEPS:-40}
BENCH_BATCH=${BENCH_BATCH:-128}
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

pack() {  # each run's newest state as parts; the old parts go only once the new ones exist
  local name newest staging members part
  for name in g1-3branch conv3d; do
    [ -f "$RUNS/$name/run.json" ] || continue
    newest=$(ls -d "$RUNS/$name"/checkpoints/epoch-[0-9]* 2>/dev/null | grep -v '\.part$' |
             sort -t- -k2 -n | tail -1)
    members=("$name/run.json")
    for part in history.csv weights; do
      [ -e "$RUNS/$name/$part" ] && members+=("$name/$part")
    done
    [ -n "$newest" ] && members+=("$name/checkpoints/${newest##*/}")
    staging=$(mktemp -d)
    if tar -C "$RUNS" -cf - "${members[@]}" | split -b 15M -d - "$staging/$name.tar." &&
        ls "$staging"/* > /dev/null 2>&1; then
      for part in "$OUT/$name.tar."*; do
        [ -e "$part" ] && [ ! -e "$staging/${part##*/}" ] && rm -f "$part"
      done
      mv "$staging"/* "$OUT"/
    fi
    rm -rf "$staging"
  done
}

for precision in bfloat16 float32; do
  timeout 55 python3 benchmarks/train.py --models g1-3branch --batch "$BENCH_BATCH" \
      --steps "$BENCH_STEPS" --precision "$precision" 2>&1 | grep -E '^\| g|Error' \
      >> "$OUT/log.txt"
  echo "benchmark $precision: exit ${PIPESTATUS[0]}" >> "$OUT/log.txt"
done

stop=$(mktemp -u)
( while :; do
    for _ in $(seq 60); do [ -e "$stop" ] && exit 0; sleep 1; done
    pack
  done ) &
packer=$!
for run in "g1-3branch $G1_MINUTES" "conv3d $CONV3D_MINUTES"; do
  set -- $run
  limit=$(python3 -c "print(int(float('$2') * 60) + 20)")
  timeout --signal=INT "$limit" python3 -m calozoo train "$1" --simulate "$SHOWERS" \
      --epochs 10000 --precision bfloat16 --max-minutes "$2" --keep-checkpoints 1 --seed 9 \
      --resume -q ${BATCH:+--batch-size $BATCH} --out "$RUNS/$1" >> "$OUT/log.txt" 2>&1
  echo "train $1: exit $?" >> "$OUT/log.txt"
  { echo "== $1"; cat "$RUNS/$1/history.csv"; } >> "$OUT/log.txt" 2>&1
done
touch "$stop"
wait "$packer"                  # lets a pack in progress finish first
rm -f "$stop"
pack
ls -l "$OUT" >> "$OUT/log.txt"
