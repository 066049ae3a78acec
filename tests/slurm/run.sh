#!/bin/bash
# The deploy/slurm scripts, unmodified, on a real one-node Slurm cluster (Debian's slurmctld,
# slurmd and munge, started by hand under a temporary directory, no systemd):
#   1. launch.sh with a job array of 3 workers on a sweep of 32 synthetic cells;
#   2. scancel one array task mid-run: the cells it was running finish on other workers;
#   3. cancel the whole first allocation (coordinator and workers) before the sweep finishes;
#   4. launch.sh again (workers as srun steps in one allocation): it resumes, never re-running
#      a finished cell (trainer invocations counted via ENSWEEP_SYNTHETIC_LOG), the report job
#      runs after the coordinator (afterok), and `runs` has exactly one row per cell.
# Every daemon it started is stopped by PID on exit. Skips unless root with apt-get.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (installs slurm and munge, runs their daemons)"
if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null ||
    ! command -v sbatch > /dev/null || ! command -v munged > /dev/null; then
    command -v apt-get > /dev/null || skip "slurm is not installed and apt-get is unavailable"
    say "installing slurmctld slurmd slurm-client munge with apt"
    # No systemd here: policy-rc.d (exit 101) keeps the packages from starting their daemons
    # with the /etc defaults; ours run from the temporary directory below.
    [ -e /usr/sbin/policy-rc.d ] || printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends slurmctld slurmd slurm-client munge; } > /dev/null 2>&1 ||
        skip "apt-get could not install slurm (no network or no Debian archive?)"
fi
BIN=$(ensweep_bin) || exit 1
export ENSWEEP_BIN=$BIN

T=$(mktemp -d /tmp/ensweep-slurm.XXXXXX)
export SLURM_CONF=$T/etc/slurm.conf
"$ROOT/tests/slurm/cluster.sh" setup "$T"
OK=0
# Stop the daemons; keep the directory (logs) only when the test failed.
finish() {
    "$ROOT/tests/slurm/cluster.sh" stop "$T" || { say "FAIL: a slurm daemon is still running"; exit 1; }
    if [ "$OK" = 1 ]; then rm -rf "$T"; else say "logs kept in $T"; fi
}
trap finish EXIT
"$ROOT/tests/slurm/cluster.sh" start "$T"

export ENSWEEP_SHARED=$T/shared ENSWEEP_WAIT_S=60 ENSWEEP_REPORT_ARGS="--metric x --resamples 50"
export ENSWEEP_SBATCH="--time=00:10:00"
SPEC=$T/slurm.toml
synthetic_spec slurm 32 700 > "$SPEC"
DIR=$ENSWEEP_SHARED/sweeps

# The coordinator job writes a client token beside its address (it listens on the host's
# address, so it runs with tokens); our status calls present it.
CLIENT_TOKEN=(--token-file "$ENSWEEP_SHARED/client.token")
queue_empty() { [ -z "$(squeue -h -o %i)" ]; }
job_of() { sed -n "s/^$1=//p" "$2"; }
status_wait_done() {
    timeout 120 "$BIN" status --coordinator "$(cat "$ENSWEEP_SHARED/coordinator.addr")" "${CLIENT_TOKEN[@]}" \
        --wait-done "$1" > /dev/null || fail "fewer than $1 cells done within 120 s"
}

say "round 1: coordinator + job array of 3 workers"
ENSWEEP_SYNTHETIC_LOG=$T/invocations.1 "$ROOT/deploy/slurm/launch.sh" "$SPEC" --array 3%3 | tee "$T/round1"
ARRAY=$(job_of workers "$T/round1")
COORD=$(job_of coordinator "$T/round1")
wait_until 60 "the coordinator's address" test -s "$ENSWEEP_SHARED/coordinator.addr"
status_wait_done 4
LOG1=$ENSWEEP_SHARED/logs/ensweep-worker-${ARRAY}_1.out
wait_until 30 "array task 1 to start its worker" grep -qs "worker pid" "$LOG1"
VICTIM_PID=$(sed -n 's/.*worker pid \([0-9]*\).*/\1/p' "$LOG1" | head -n 1)
victim_ran() { grep -qs " $VICTIM_PID\$" "$T/invocations.1"; }
wait_until 60 "array task 1's worker to start a cell" victim_ran
say "scancel ${ARRAY}_1 (worker pid $VICTIM_PID) mid-run"
scancel "${ARRAY}_1"
wait_until 60 "the cancelled worker to report its release" grep -qs 'worker stopped' "$LOG1"
grep -q 'worker stopped: .*, [1-9][0-9]* released' "$LOG1" ||
    fail "the cancelled array task released no cell: $(tail -n 2 "$LOG1")"
STATUS=$("$BIN" status --coordinator "$(cat "$ENSWEEP_SHARED/coordinator.addr")" "${CLIENT_TOKEN[@]}")
echo "$STATUS" | grep -q 'preempted [1-9]' || fail "the coordinator saw no preempted cell: $STATUS"
status_wait_done 16
say "cancelling the whole first allocation before the sweep finishes"
scancel "$COORD" "$ARRAY"
wait_until 90 "the first allocation's jobs to end" queue_empty

DONE1=$(query_col "$DIR" "SELECT cell_key FROM runs" | sort)
N1=$(echo "$DONE1" | grep -c . || true)
[ "$N1" -ge 16 ] && [ "$N1" -lt 32 ] || fail "after round 1, $N1 runs (expected 16..31)"
say "round 1 left $N1 of 32 cells done"

say "round 2: a second allocation (coordinator + srun-step workers) resumes"
ENSWEEP_SYNTHETIC_LOG=$T/invocations.2 "$ROOT/deploy/slurm/launch.sh" "$SPEC" --steps 1 | tee "$T/round2"
REPORT=$(job_of report "$T/round2")
wait_until 150 "the second allocation and its report to finish" queue_empty
scontrol show job "$REPORT" | grep -q 'JobState=COMPLETED' ||
    fail "report job: $(scontrol show job "$REPORT" | grep -o 'JobState=[A-Z_]*\|Reason=[^ ]*')"
grep -q '^slurm,32$\|slurm.*32' "$ENSWEEP_SHARED"/logs/ensweep-report-"$REPORT".out ||
    fail "the report job did not count 32 runs"
test -s "$DIR/slurm/report/index.html" || fail "no report/index.html"

ROWS=$(query_col "$DIR" "SELECT count(*) FROM runs")
KEYS=$(query_col "$DIR" "SELECT count(DISTINCT cell_key) FROM runs")
[ "$ROWS" = 32 ] && [ "$KEYS" = 32 ] || fail "runs has $ROWS rows over $KEYS cells (expected 32 and 32)"
RAN2=$(cut -d' ' -f1 "$T/invocations.2" | sort -u)
AGAIN=$(comm -12 <(echo "$DONE1") <(echo "$RAN2") | grep -c . || true)
[ "$AGAIN" = 0 ] || fail "round 2 re-ran $AGAIN cell(s) finished in round 1"
MISSING=$(comm -23 <(query_col "$DIR" "SELECT cell_key FROM runs" | sort) <(echo "$DONE1") |
    comm -23 - <(echo "$RAN2") | grep -c . || true)
[ "$MISSING" = 0 ] || fail "$MISSING cell(s) finished in round 2 without a round-2 invocation"

# Cells the cancelled task had started but not finished: each has one row, from another worker.
VICTIM=slurm-$ARRAY-1
CUT=$(awk -v p="$VICTIM_PID" '$3 == p {print $1}' "$T/invocations.1" | sort -u)
FINISHED_BY_VICTIM=$(query_col "$DIR" "SELECT cell_key FROM runs WHERE worker = '$VICTIM'" | sort)
INTERRUPTED=$(comm -23 <(echo "$CUT") <(echo "$FINISHED_BY_VICTIM") | grep . || true)
# (Empty only where the signal fell between two cells; its released leases are checked above.)
for key in $INTERRUPTED; do
    W=$(query_col "$DIR" "SELECT worker FROM runs WHERE cell_key = '$key'")
    [ "$(echo "$W" | grep -c .)" = 1 ] && [ "$W" != "$VICTIM" ] ||
        fail "interrupted cell $key: workers '$W'"
done
say "PASS: 32 cells, one row each; $(echo "$INTERRUPTED" | grep -c .) interrupted cell(s) of the cancelled task finished elsewhere; round 2 ran $(echo "$RAN2" | grep -c .) cell(s), none already done"
OK=1
