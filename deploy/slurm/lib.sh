# shellcheck shell=bash
# Shared by the deploy/slurm job scripts; sourced, never run. A batch script runs from a copy in
# Slurm's spool directory, so the scripts find this file through ENSWEEP_DEPLOY (set by launch.sh).
#
# Settings (environment; sbatch passes the submitter's environment to jobs by default):
#   ENSWEEP_BIN     the ensweep binary (default: `ensweep` on PATH)
#   ENSWEEP_SHARED  a directory every node sees: ledger, tables, address and token files
#   ENSWEEP_WAIT_S  longest wait for the coordinator's address (default 300 s)

BIN=${ENSWEEP_BIN:-ensweep}
SHARED=${ENSWEEP_SHARED:?set ENSWEEP_SHARED to a directory every node can read}
ADDR_FILE=$SHARED/coordinator.addr
WAIT_S=${ENSWEEP_WAIT_S:-300}

say() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "${SLURM_JOB_ID:-local}" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Whether `ensweep <cmd> --help` lists FLAG. Token and TLS flags arrive in a later release; the
# scripts use them where the binary has them and run unauthenticated (trusted network) where not.
has_flag() { "$BIN" "$1" --help 2>/dev/null | grep -q -- "$2"; }

# Writes stdin to FILE atomically (a reader sees the old file or the whole new one), mode 0600.
write_atomic() {
    local tmp
    tmp=$(mktemp "$1.XXXXXX") || return 1
    chmod 600 "$tmp" && cat > "$tmp" && mv -f "$tmp" "$1"
}

# Prints the coordinator's URL once the address file exists; fails after WAIT_S seconds.
coordinator_url() {
    local waited=0
    until [ -s "$ADDR_FILE" ]; do
        [ "$waited" -lt "$WAIT_S" ] ||
            die "no coordinator address in $ADDR_FILE after ${WAIT_S}s: is the coordinator job running? (squeue -u \$USER)"
        sleep 2
        waited=$((waited + 2))
    done
    head -n 1 "$ADDR_FILE"
}

# Token arguments for a worker (`--token-file`), where the binary and the coordinator have them.
worker_auth() {
    if [ -s "$SHARED/worker.token" ] && has_flag worker --token-file; then
        printf '%s\n' --token-file "$SHARED/worker.token"
    fi
}
client_auth() {
    if [ -s "$SHARED/client.token" ] && has_flag status --token-file; then
        printf '%s\n' --token-file "$SHARED/client.token"
    fi
}

# Blocks until every submitted sweep is finished and exported. Retries while the coordinator is
# unreachable (it may be restarting); the caller bounds the whole wait with its time limit.
wait_finished() {
    local url=$1
    local -a auth
    mapfile -t auth < <(client_auth)
    until "$BIN" status --coordinator "$url" "${auth[@]}" --wait > /dev/null; do
        say "coordinator at $url not answering; retrying in 10 s"
        sleep 10
    done
}
