# shellcheck shell=bash
# Shared by the cluster checks under tests/ (slurm, netns, deploy); sourced, never run.
# Exit codes: 0 passed, 77 skipped (with a message saying why), anything else failed.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '[%s %s] %s\n' "$(basename "$(dirname "$0")")" "$(date -u +%H:%M:%S)" "$*" >&2; }
skip() { say "SKIP: $*"; exit 77; }
fail() { say "FAIL: $*"; exit 1; }

# The target directory cargo uses: $CARGO_TARGET_DIR, else what `cargo metadata` says.
target_dir() {
    local target=${CARGO_TARGET_DIR:-}
    if [ -z "$target" ]; then
        target=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    fi
    case $target in /*) ;; *) target=$ROOT/$target ;; esac
    echo "$target"
}

# The already-built debug binary (never a second build): $ENSWEEP_BIN, else target/debug/ensweep.
# Call as BIN=$(ensweep_bin) || exit: a failure inside $(...) only ends the subshell.
ensweep_bin() {
    local bin=${ENSWEEP_BIN:-$(target_dir)/debug/ensweep}
    [ -x "$bin" ] || fail "no $bin: run cargo build (or cargo test --workspace) first"
    echo "$bin"
}

# wait_until SECONDS WHAT CMD...: polls CMD (every 0.5 s) until it succeeds; fails naming WHAT.
wait_until() {
    local limit=$1 what=$2 start=$SECONDS
    shift 2
    until "$@"; do
        [ $((SECONDS - start)) -lt "$limit" ] || fail "timed out after ${limit}s waiting for $what"
        sleep 0.5
    done
}

# A synthetic sweep of N cells sleeping MS each: real cells through the real trainer dispatch,
# at no CPU cost. ENSWEEP_SYNTHETIC_LOG counts trainer invocations.
synthetic_spec() {
    printf '[sweep]\nname = "%s"\nseeds = %d\n\n[synthetic]\nx = 1.5\nsleep_ms = %d\n' "$1" "$2" "$3"
}

# Rows of a one-column query, one a line.
query_col() { "$BIN" query "$1" "$2" --format csv | tail -n +2; }
