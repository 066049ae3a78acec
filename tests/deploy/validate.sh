#!/bin/bash
# Offline checks of deploy/: every Kubernetes manifest against the current API schemas
# (kubernetes-validate, strict: unknown fields fail) and a security scan of the manifests and
# the Containerfile (checkov), skipping exactly the checks listed with a reason in
# deploy/checkov-skips.txt. Both tools go into a venv in the cargo target directory, reused
# between runs. Skips where Python's venv or the package index is unavailable.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

command -v python3 > /dev/null || skip "no python3"
TARGET=$(target_dir)
VENV=$TARGET/deploy-check-venv
if [ ! -x "$VENV/bin/checkov" ] || [ ! -x "$VENV/bin/kubernetes-validate" ]; then
    say "installing kubernetes-validate and checkov into $VENV"
    python3 -m venv "$VENV" > /dev/null 2>&1 || skip "python3 cannot create a venv (python3-venv missing?)"
    "$VENV/bin/pip" install -q kubernetes-validate checkov > "$TARGET/deploy-check-pip.log" 2>&1 ||
        skip "pip could not install kubernetes-validate and checkov: $(tail -n 1 "$TARGET/deploy-check-pip.log")"
fi

cd "$ROOT"
MANIFESTS=()
for f in deploy/k8s/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || MANIFESTS+=("$f")
done
"$VENV/bin/kubernetes-validate" --strict --quiet "${MANIFESTS[@]}" ||
    fail "a manifest does not validate against the Kubernetes API schemas"

SKIPS=$(grep -v '^#' deploy/checkov-skips.txt | grep . | while read -r id reason; do
    [ -n "$reason" ] || fail "deploy/checkov-skips.txt: $id has no reason"
    echo "$id"
done | paste -sd, -)
# checkov recognises Dockerfiles by name only; scan a copy of the Containerfile under that name.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cp deploy/Containerfile "$T/Dockerfile"
for target in "deploy/k8s kubernetes" "$T dockerfile"; do
    read -r dir framework <<< "$target"
    "$VENV/bin/checkov" -d "$dir" --framework "$framework" --skip-check "$SKIPS" --compact \
        --quiet > "$T/checkov.out" 2>&1 || {
        cat "$T/checkov.out" >&2
        fail "checkov ($framework) found problems in $dir (skipped only: $SKIPS)"
    }
    grep -q 'Passed checks: [1-9]' "$T/checkov.out" || fail "checkov ($framework) checked nothing in $dir"
done
say "PASS: ${#MANIFESTS[@]} manifests validate; checkov passes on manifests and Containerfile (skipped: $SKIPS)"
