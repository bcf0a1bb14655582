#!/usr/bin/env bash
# Optional micro-sam extra (filled in by the micro-sam integration).
set -euo pipefail
echo "micro-sam: not installed by this script yet"
