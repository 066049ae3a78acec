#!/bin/bash
# Queues a whole sweep on Slurm: the coordinator job, the workers (a job array or srun steps in
# one allocation), and the report chained with --dependency=afterok on the coordinator.
#
#   ENSWEEP_SHARED=$HOME/ensweep deploy/slurm/launch.sh SPEC.toml [--array W%K | --steps NODES]
#
# --array W%K   W worker jobs, at most K at once (default: --array 4%4)
# --steps N     one allocation of N nodes, one worker step per node
# Extra sbatch options for every job: ENSWEEP_SBATCH (e.g. "--partition=cpu --account=me").
# Prints one `name=jobid` line per job queued (coordinator, workers, report).
# Running it again with the same ENSWEEP_SHARED resumes: finished cells are never run again.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export ENSWEEP_DEPLOY=$HERE
export ENSWEEP_SHARED=${ENSWEEP_SHARED:?set ENSWEEP_SHARED to a directory every node can read}
SPEC=${1:?usage: launch.sh SPEC.toml [--array W%K | --steps NODES]}
SPEC=$(cd "$(dirname "$SPEC")" && pwd)/$(basename "$SPEC")
MODE=${2:---array}
ARG=${3:-4%4}
read -r -a OPTS <<< "${ENSWEEP_SBATCH:-}"
mkdir -p "$ENSWEEP_SHARED/logs"
OUT=(--chdir "$ENSWEEP_SHARED/logs")

# A stale address would send the new workers to a coordinator that is gone.
rm -f "$ENSWEEP_SHARED/coordinator.addr"
COORD=$(sbatch --parsable "${OPTS[@]}" "${OUT[@]}" "$HERE/coordinator.sbatch" "$SPEC")
echo "coordinator=$COORD"
case $MODE in
--array)
    W=${ARG%%%*}
    K=${ARG#*%}
    [ "$K" != "$ARG" ] || K=$W
    WORKERS=$(sbatch --parsable "${OPTS[@]}" "${OUT[@]}" --array="0-$((W - 1))%$K" \
        --dependency="after:$COORD" "$HERE/workers-array.sbatch")
    ;;
--steps)
    WORKERS=$(sbatch --parsable "${OPTS[@]}" "${OUT[@]}" --nodes="$ARG" \
        --dependency="after:$COORD" "$HERE/workers-steps.sbatch")
    ;;
*)
    echo "unknown mode $MODE (--array W%K or --steps NODES)" >&2
    exit 2
    ;;
esac
echo "workers=$WORKERS"
# afterok on the coordinator: it exits 0 only once every sweep is finished and exported. If it
# is cancelled instead, --kill-on-invalid-dep drops the report rather than leaving it pending.
REPORT=$(sbatch --parsable "${OPTS[@]}" "${OUT[@]}" --dependency="afterok:$COORD" \
    --kill-on-invalid-dep=yes "$HERE/report.sbatch")
echo "report=$REPORT"
