#!/usr/bin/env bash
# Wall time of the default pipeline from scratch, then of a second run that must do no work.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf results logs
start=$(date +%s); make run >/tmp/bioalign_make_run.log 2>&1; first=$(( $(date +%s) - start ))
start=$(date +%s); make run >/tmp/bioalign_make_run2.log 2>&1; second=$(( $(date +%s) - start ))
jobs=$(grep -c "^rule \|^localrule " /tmp/bioalign_make_run2.log || true)
echo "| run | wall s | jobs |"
echo "|---|---|---|"
echo "| first make run | $first | $(grep -c '^rule \|^localrule ' /tmp/bioalign_make_run.log || true) |"
echo "| second make run | $second | $jobs |"
