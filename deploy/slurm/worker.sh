# shellcheck shell=bash
# One pull worker until every sweep is finished; sourced by the worker job scripts after lib.sh.
# SIGTERM (scancel, preemption, or --signal ahead of the time limit) makes the worker release
# its cells as preempted, which costs them no retry budget; other workers take them over.
run_worker() {
    local name=$1 slots=$2 url worker waiter
    url=$(coordinator_url)
    local -a auth
    mapfile -t auth < <(worker_auth)
    say "worker $name ($slots slots) pulling from $url"
    # Checkpoints on the shared directory: a cell cut off here resumes on the next worker.
    "$BIN" worker --coordinator "$url" --slots "$slots" --name "$name" "${auth[@]}" \
        --checkpoint-dir "$SHARED/checkpoints" &
    worker=$!
    say "worker pid $worker"
    trap 'say "SIGTERM: releasing cells"; kill -TERM $worker 2> /dev/null; wait $worker; exit 0' TERM
    wait_finished "$url" &
    waiter=$!
    wait -n "$worker" "$waiter" || true
    if kill -0 "$worker" 2> /dev/null; then
        say "every sweep is finished"
        kill -TERM "$worker"
        wait "$worker" || true
        return 0
    fi
    kill "$waiter" 2> /dev/null || true
    wait "$worker"
}
