#!/bin/sh
# The baselines of issue 7 in one run (JSON lines on stdout): the bare-pipe
# floor with the Python bridge and with the C++ tiny worker, the spawn floor
# of bare interpreters, and Python's own process pools.
#
#   bench/baselines/run.sh [BUILD_DIR] [REQUESTS]     (default: build, 20000)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build}/bin
requests=${2:-20000}
# Debian's interpreter, not a version-manager shim (~0.6 s per start).
py=/usr/bin/python3
export PYTHONPATH="$root/bridges/python${PYTHONPATH:+:$PYTHONPATH}"
floor="$bin/snakepit_pipe_floor"
# The command line the pool uses (no runpy: adapters.cc).
bridge="import sys; from snakepit_bridge.__main__ import main; sys.exit(main())"

for n in 1 4; do
  for pin in "" --pin; do
    "$floor" --size $n --requests "$requests" $pin -- "$py" -c "$bridge" --adapter snakepit_bridge.generic
    "$floor" --size $n --requests "$requests" $pin -- "$bin/snakepit_tiny_worker"
  done
done
"$floor" --size 1 --requests 200 --binary-bytes 1048576 -- "$py" -c "$bridge" --adapter snakepit_bridge.generic
"$floor" --size 1 --requests 200 --binary-bytes 1048576 -- "$bin/snakepit_tiny_worker"
for n in 4 16; do
  "$floor" --size $n --spawn-only -- "$py" -c "import snakepit_bridge.generic"
  "$floor" --size $n --spawn-only --sequential -- "$py" -c "import snakepit_bridge.generic"
done
"$floor" --size 1000 --requests 0 -- "$bin/snakepit_tiny_worker"
"$py" "$here/mp_baseline.py" --sizes 1,4 --requests "$requests"
