#!/bin/bash
# The whole test suite, what CI runs (.ci/run) and the README names: the cargo tests, then the
# cluster checks on the debug binary those tests built (no second build profile):
#   tests/slurm/run.sh        deploy/slurm on a real one-node Slurm cluster
#   tests/netns/run.sh        coordinator and workers across network namespaces, a link cut
#   tests/deploy/validate.sh  Kubernetes manifests against the API schemas; checkov
# Each check skips with a message where it cannot run (not root, no apt, no namespaces, no
# network for pip); the last line sums them up.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
cargo test --workspace
CARGO_RC=$?

passed=0 failed=0 skipped=0
# Bounds per check, so a hang cannot eat CI's time budget (together ~75 s, ~2.5 min on a
# fresh machine: deploy/README.md).
for check in "tests/slurm/run.sh 240" "tests/netns/run.sh 120" "tests/deploy/validate.sh 180"; do
    read -r script limit <<< "$check"
    timeout -k 10 "$limit" bash "$script"
    rc=$?
    case $rc in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)) ;;
    *)
        [ "$rc" = 124 ] && echo "$script: timed out after ${limit}s" >&2
        failed=$((failed + 1))
        ;;
    esac
done
[ "$CARGO_RC" = 0 ] || echo "cargo test --workspace failed (exit $CARGO_RC)"
echo "cluster: $passed passed, $failed failed, $skipped skipped"
[ "$CARGO_RC" = 0 ] && [ "$failed" = 0 ]
