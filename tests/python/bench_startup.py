#!/usr/bin/env python3
"""Measures bridge start-up: spawn ``python3 -m snakepit_bridge`` to hello.

    /usr/bin/python3 tests/python/bench_startup.py [N] [ROUNDS]

Reports, for one worker at a time (median of N) and for N workers started at
once: wall time until the hello frame arrives, and the workers' user+sys CPU
(from os.wait4). A bare ``python3 -c pass`` is measured the same way (spawn to
exit) as the floor.
"""

import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402


def _reap(proc):
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def bridges(n):
    """Start n bridges at once -> (wall s until the last hello, CPU s per worker)."""
    start = time.perf_counter()
    workers = [support.NativeWorker() for _ in range(n)]
    for worker in workers:
        kind = worker.recv_frame()[0]
        assert kind == support.HELLO, kind
    wall = time.perf_counter() - start
    cpu = 0.0
    for worker in workers:
        worker.send_frame(support.SHUTDOWN, 0)
        worker.close_input()
        cpu += _reap(worker.proc)
        worker.cleanup()
    return wall, cpu / n


def bare(n):
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", "pass"], env=support.child_env())
             for _ in range(n)]
    cpu = sum(_reap(p) for p in procs)
    return time.perf_counter() - start, cpu / n


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print("%-22s %10s %14s" % ("", "wall ms", "CPU ms/worker"))
    for label, fn, count in (("bridge, one at a time", bridges, 1),
                             ("bridge, %d at once" % n, bridges, n),
                             ("bare python, 1", bare, 1),
                             ("bare python, %d" % n, bare, n)):
        reps = rounds * (n if count == 1 else 1)
        runs = [fn(count) for _ in range(reps)]
        print("%-22s %10.1f %14.1f" % (label, statistics.median(r[0] for r in runs) * 1e3,
                                       statistics.median(r[1] for r in runs) * 1e3))


if __name__ == "__main__":
    main()
