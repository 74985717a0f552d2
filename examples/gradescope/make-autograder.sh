#!/usr/bin/env bash
# Make autograder.zip for Gradescope ("Configure Autograder" > "Zip file upload"):
# setup.sh, run_autograder, results.js and submission.yaml at the root of the zip, and
# wirelab/ (its build, lab world, scenarios and package files; setup.sh installs its
# dependencies on Gradescope).
# Usage: examples/gradescope/make-autograder.sh [OUT.zip]   (default: autograder.zip)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$(realpath -m "${1:-autograder.zip}")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# wirelab's build (npm install made it; `npm run build` after a change).
[ -f "$repo/dist/lab-runner/cli.js" ] || (cd "$repo" && npm run --silent build)
cp "$here/setup.sh" "$here/run_autograder" "$here/results.js" "$here/submission.yaml" "$stage/"
mkdir -p "$stage/wirelab"
cp -R "$repo/dist" "$repo/lab" "$repo/scenarios" "$repo/package.json" "$repo/package-lock.json" "$stage/wirelab/"
rm -f "$stage/wirelab/dist/.tsbuildinfo"
rm -f "$out"
# The files, not their folder, at the root of the zip (Gradescope looks there).
(cd "$stage" && python3 -m zipfile -c "$out" setup.sh run_autograder results.js submission.yaml wirelab)
echo "made $out ($(du -h "$out" | cut -f1))"
