#!/usr/bin/env bash
# The README's test command, as CI runs it: set up .venv (Cellpose 3, napari, micro-sam, Dask), check the code
# with ruff, run every test; then set up .venv-cp4 (Cellpose 4) and run there the Cellpose 4 tests and the
# engine, runner and measurement tests (those that need the project's Cellpose 3 model, marker cp3, are
# deselected there; tests/_areas.py).
# Like .ci/run it sets CI=true: a test that cannot get its data fails, and so does an area that cannot run
# (micro-sam, napari or pytest-qt not installed), unless a named opt-out drops it:
#   SAM=0 scripts/test.sh        without micro-sam (not installed; its tests deselected)
#   NAPARI=0 scripts/test.sh     without the napari widget tests (marker qt)
#   CP4=0 scripts/test.sh        without the Cellpose 4 environment
#   NAPARI_MIN=0 scripts/test.sh without the widget tests against the oldest napari declared (.venv-napari-min)
#   SIDE=0 scripts/test.sh       the other environments' tests after the main ones, not beside them
#   scripts/test.sh -x -k NAME   extra arguments go to the main environment's pytest
# Every part runs even when an earlier one failed; the last lines list each part's result and what was left
# out. Under a virtual X server when xvfb-run exists (screenshot tests); otherwise Qt runs offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI=true
export SAM="${SAM:-1}" NAPARI="${NAPARI:-1}" CP4="${CP4:-1}" NAPARI_MIN="${NAPARI_MIN:-1}"

scripts/setup.sh
# Every environment is set up first; then the main environment's tests run and, beside them, the other
# environments' (one after the other all parts took 69 min on CI's 2 cores: the widget tests spend much
# of their time waiting on Qt's timers and the Cellpose 4 tests on the other core). Their output is shown
# after the main tests', whole; SIDE=0 runs them one after the other instead.
[ "$CP4" != "0" ] && scripts/setup_cp4.sh
[ "$NAPARI_MIN" != "0" ] && [ "$NAPARI" != "0" ] && scripts/setup_napari_min.sh
failed=()
results=()
part() {  # part NAME COMMAND...: run it, remember how it ended
  local name=$1 status=0
  shift
  "$@" || status=$?
  if [ "$status" = 0 ]; then results+=("$name: passed"); else results+=("$name: FAILED (exit $status)"); failed+=("$name"); fi
}
display=(env QT_QPA_PLATFORM=offscreen)
command -v xvfb-run >/dev/null 2>&1 && display=(xvfb-run -a)

other_environments() {  # the Cellpose 4 and oldest-napari parts; with FILE: their results written to it
  local into=${1:-}
  [ -z "$into" ] || { results=(); failed=(); }
  if [ "$CP4" != "0" ]; then
    # Cellpose 4 (docs/cellpose4.md): a second environment with Cellpose 4 instead of 3 (micro-sam and Dask
    # beside it); the widget tests stay in the main environment, but for one Cellpose 4 volume run from the widget.
    part "pip check (.venv-cp4)" .venv-cp4/bin/python -m pip check
    part "tests (.venv-cp4, Cellpose 4)" env BATCHSEG_EXPECT_CELLPOSE=4 .venv-cp4/bin/python -m pytest -q \
      -p no:cacheprovider -p no:pytest-qt -m "not qt" \
      tests/test_cellpose4.py tests/test_cellpose4_precision.py tests/test_3d_cp4.py tests/test_engine.py tests/test_runners.py tests/test_measure.py
    part "widget tests (.venv-cp4, Cellpose 4 volumes)" env BATCHSEG_EXPECT_CELLPOSE=4 "${display[@]}" \
      .venv-cp4/bin/python -m pytest -q -p no:cacheprovider -m cp4 tests/_napari/test_volume_methods.py
  fi
  if [ "$NAPARI_MIN" != "0" ] && [ "$NAPARI" != "0" ]; then
    # the widget tests, the layering and packaging (manifest) tests against the oldest napari pyproject.toml
    # declares (issue 20); micro-sam is not installed there (its tests are deselected: SAM=0)
    part "pip check (.venv-napari-min)" .venv-napari-min/bin/python -m pip check
    part "widget tests (.venv-napari-min, napari $(.venv-napari-min/bin/python -c 'import napari; print(napari.__version__)'))" \
      env SAM=0 "${display[@]}" .venv-napari-min/bin/python -m pytest -q -p no:cacheprovider \
      tests/_napari tests/test_layering.py tests/test_packaging.py
  fi
  [ -z "$into" ] || printf '%s\n' "${results[@]}" >"$into"
}

part "ruff" .venv/bin/ruff check .
# a registry's new release can break a declared requirement of another package without an install failing
part "pip check (.venv)" .venv/bin/python -m pip check
if [ "${SIDE:-1}" = "1" ]; then
  side_log=$(mktemp)
  side_results=$(mktemp)
  # (the other environments' first part runs without a display: the two xvfb-run -a never start together)
  other_environments "$side_results" >"$side_log" 2>&1 &
  side=$!
fi
part "tests (.venv, Cellpose 3)" "${display[@]}" .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
if [ "${SIDE:-1}" = "1" ]; then
  side_status=0
  wait "$side" || side_status=$?
  echo
  echo "=== run beside the main tests: the other environments ==="
  cat "$side_log"
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    results+=("$line")
    case "$line" in *": FAILED"*) failed+=("${line%%: FAILED*}") ;; esac
  done <"$side_results"
  rm -f "$side_log" "$side_results"
  [ "$side_status" = 0 ] || { results+=("other environments: FAILED (exit $side_status)"); failed+=("other environments"); }
else
  other_environments
fi

left=()
[ "$SAM" = "0" ] && left+=("micro-sam (SAM=0)")
[ "$NAPARI" = "0" ] && left+=("napari widgets (NAPARI=0)")
[ "$CP4" = "0" ] && left+=("Cellpose 4 environment (CP4=0)")
[ "$NAPARI_MIN" = "0" ] && [ "$NAPARI" != "0" ] && left+=("widgets with the oldest napari (NAPARI_MIN=0)")
echo
echo "scripts/test.sh:"
for line in "${results[@]}"; do echo "  $line"; done
if [ ${#left[@]} -gt 0 ]; then
  echo "  left out: $(IFS=,; echo "${left[*]}" | sed 's/,/, /g')"
else
  echo "  left out: nothing"
fi
[ ${#failed[@]} -eq 0 ]
