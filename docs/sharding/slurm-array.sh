#!/bin/bash
# Sharded logging on Slurm: a job array logs one shard per task (`logra log --shard auto` reads
# SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT), and a merge job that runs once every task
# succeeded (--dependency=afterok) merges the shards and fits the merged index. See docs/sharding/README.md.
#
#   SHARDS=8 MODEL=model.onnx DATA=train.jsonl bash slurm-array.sh      # submits both jobs
#   SHARD=3/8 sbatch --export=ALL slurm-array.sh log                    # re-runs one failed shard (resumes it)
#   sbatch --export=ALL slurm-array.sh merge                            # then the merge, by hand
#
# WORK must be on a file system every node shares (the merge hard-links the shards' chunk files: no rows are
# copied; where hard links are not possible, set MERGE_FLAGS=--copy). Every task reads the whole DATA file and logs
# its own slice, so all of them must see the same file. Set `logra` to `npx logra` if the package is installed in a
# project rather than globally.
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
set -euo pipefail

SHARDS=${SHARDS:-4}
MODEL=${MODEL:-model.onnx}
DATA=${DATA:-train.jsonl}
WORK=${WORK:-$PWD/logra-work}
LOG_FLAGS=${LOG_FLAGS:---k-in 16 --k-out 16 --hessian raw}
MERGE_FLAGS=${MERGE_FLAGS:-}
LOGRA=${LOGRA:-logra}
export SHARDS MODEL DATA WORK LOG_FLAGS MERGE_FLAGS LOGRA

case "${1:-submit}" in
  submit)
    mkdir -p "$WORK/shards"
    script=$(realpath "$0")
    jid=$(sbatch --parsable --job-name=logra-log --array="0-$((SHARDS - 1))" --time=04:00:00 --export=ALL "$script" log)
    sbatch --job-name=logra-merge --dependency="afterok:$jid" --time=01:00:00 --export=ALL "$script" merge
    ;;
  log)
    # an array task takes its shard from Slurm's variables; SHARD=i/n (re-running one shard outside the array) wins
    shard=${SHARD:-auto}
    name=${SHARD:+shard-${SHARD%%/*}}
    name=${name:-shard-$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))}
    # shellcheck disable=SC2086 # LOG_FLAGS is a list of flags
    exec $LOGRA log --model "$MODEL" --data "$DATA" --index "$WORK/shards/$name" --shard "$shard" $LOG_FLAGS --quiet
    ;;
  merge)
    # refuses (exit 1, naming the shard) unless shards 0..SHARDS-1 are all there and finished
    # shellcheck disable=SC2086
    $LOGRA merge "$WORK/index" "$WORK"/shards/shard-* $MERGE_FLAGS --quiet
    exec $LOGRA fit --index "$WORK/index" --quiet
    ;;
  *)
    echo "usage: $0 [submit|log|merge]" >&2
    exit 2
    ;;
esac
