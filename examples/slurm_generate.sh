#!/bin/bash
# Generate N showers as a SLURM job array: one shard per array task, then merge.
#
#   sbatch --array=0-15 examples/slurm_generate.sh        # 16 shards
#   calozoo merge showers.h5 shards/out-*.h5              # once every task has finished
#                                                         # (or: sbatch --dependency=afterok:JOBID)
# Every task writes the rows of its shard exactly as one unsharded run would write them (same
# seed, same N), so the merged file is the same whatever the number of tasks.
# DRY_RUN=1 prints the command instead of running it.
#SBATCH --job-name=calozoo-generate
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=02:00:00
#SBATCH --output=shards/generate-%A_%a.log

set -euo pipefail
MODEL=${MODEL:-conv3d}
SHOWERS=${SHOWERS:-1000000}          # N of the whole run
ENERGIES=${ENERGIES:-100:500}        # GeV, uniform
SEED=${SEED:-1}
OUT=${OUT:-shards}

TASK=${SLURM_ARRAY_TASK_ID:?run this script as a SLURM job array (sbatch --array=0-15)}
TASKS=${SLURM_ARRAY_TASK_COUNT:?run this script as a SLURM job array (sbatch --array=0-15)}

mkdir -p "$OUT"
${DRY_RUN:+echo} calozoo generate "$MODEL" -n "$SHOWERS" --energies "$ENERGIES" --seed "$SEED" \
    --shard "$TASK/$TASKS" -o "$OUT/out-$TASK.h5" --quiet
