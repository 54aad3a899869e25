#!/usr/bin/python3
"""Worker CPU per request of Python workers driven by snakepit_pipe_floor,
several interleaved rounds, medians (a noisy machine needs both).

    /usr/bin/python3 tests/python/bench_loop.py [--requests 50000] [--rounds 5]
        [--build build-bench] [--binary-bytes B | --payload-bytes B]
        [--only NAME,...] [--adapter MODULE|same] [NAME=PYTHONPATH ...]

Workers: ``ref`` (bench/baselines/fast_loop_worker.py, the fastest stdlib
loop), ``bridge`` (bridges/python with the generic adapter) and one bridge
per NAME=PYTHONPATH argument (e.g. ``before=/tmp/before/python`` for a copy
of an older bridge, compared in the same run); ``tiny`` (the C++ worker)
with --binary-bytes (``transform`` identity; ``echo`` for workers without
it) or --payload-bytes (``echo`` of a string, instead of ``ping``).

Two figures per worker: ``floor`` is snakepit_pipe_floor's own
worker_cpu_us_per_req (/proc clock ticks over the measured phase);
``user``/``sys`` come from getrusage() in the worker at exit, minus the
median of runs with no requests (start-up), divided by the requests
(warm-up included): finer than clock ticks and split user/system.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = "/usr/bin/python3"
WARMUP = 100

# Runs the worker, then reports its CPU time on stderr.
_WRAP = r'''
import os, sys
def _report():
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    os.write(2, b"WORKER_CPU %.6f %.6f %d\n" % (r.ru_utime, r.ru_stime, r.ru_minflt))
target = sys.argv[1]
try:
    if target.endswith(".py"):
        sys.argv = sys.argv[1:]
        import runpy
        runpy.run_path(target, run_name="__main__")
        rc = 0
    else:
        from snakepit_bridge.__main__ import main
        rc = main(sys.argv[2:])
except SystemExit as exc:
    rc = exc.code
_report()
sys.exit(rc)
'''


# ping and echo as bench/baselines/fast_loop_worker.py answers them.
_SAME_ADAPTER = """
from snakepit_bridge import command


@command
def ping(ctx, **args):
    return {"status": "ok", "pong": True}


@command
def echo(ctx, **args):
    return args
"""


def run_once(floor, argv, env, requests, binary, payload=0):
    cmd = [floor, "--size", "1", "--requests", str(requests),
           "--warmup", str(WARMUP if requests else 0)]
    if binary:
        cmd += ["--binary-bytes", str(binary)]
    if payload:
        cmd += ["--payload-bytes", str(payload)]
    proc = subprocess.run(cmd + ["--"] + argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit("failed: %s\n%s%s" % (" ".join(cmd + argv), proc.stdout, proc.stderr))
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    cpu = [line.split()[1:] for line in proc.stderr.splitlines()
           if line.startswith("WORKER_CPU")]
    user, system, faults = (float(x) for x in cpu[-1]) if cpu else (float("nan"),) * 3
    return lines[-1], user, system, faults


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    parser.add_argument("--binary-bytes", type=int, default=0)
    parser.add_argument("--payload-bytes", type=int, default=0,
                        help="echo of a string of this many bytes instead of ping")
    parser.add_argument("--only", default="", help="comma-separated worker names")
    parser.add_argument("--adapter", default="snakepit_bridge.generic",
                        help="the bridges' adapter; 'same' for one whose ping and echo "
                             "do what the reference's do (the loops compared alone)")
    parser.add_argument("extra", nargs="*", help="NAME=PYTHONPATH of more bridges")
    args = parser.parse_args()
    floor = os.path.join(args.build, "bin", "snakepit_pipe_floor")
    base_env = dict(os.environ)
    reference = os.path.join(ROOT, "bench/baselines/fast_loop_worker.py")
    workers = {"ref": ([PY, "-c", _WRAP, reference], base_env)}
    bridges = [("bridge", os.path.join(ROOT, "bridges/python"))]
    bridges += [tuple(e.split("=", 1)) for e in args.extra]
    adapter = args.adapter
    extra_path = ""
    if adapter == "same":
        tmp = tempfile.mkdtemp(prefix="bench_loop_")
        with open(os.path.join(tmp, "bench_same_adapter.py"), "w") as f:
            f.write(_SAME_ADAPTER)
        adapter, extra_path = "bench_same_adapter", os.pathsep + tmp
    for name, path in bridges:
        env = dict(base_env, PYTHONPATH=path + extra_path)
        workers[name] = ([PY, "-c", _WRAP, "-", "--adapter", adapter], env)
    if args.binary_bytes or args.payload_bytes:
        workers["tiny"] = ([os.path.join(args.build, "bin", "snakepit_tiny_worker")], base_env)
    if args.only:
        workers = {k: v for k, v in workers.items() if k in args.only.split(",")}

    startup = {name: [] for name in workers}
    results = {name: [] for name in workers}
    for _ in range(3):
        for name, (argv, env) in workers.items():
            _, user, system, faults = run_once(floor, argv, env, 0, 0)
            startup[name].append((user, system, faults))
    for r in range(args.rounds):
        for name, (argv, env) in workers.items():
            line, user, system, faults = run_once(floor, argv, env, args.requests,
                                                  args.binary_bytes, args.payload_bytes)
            n = args.requests + WARMUP
            su = statistics.median(u for u, _, _ in startup[name])
            ss = statistics.median(s for _, s, _ in startup[name])
            sf = statistics.median(f for _, _, f in startup[name])
            results[name].append({
                "floor": line["worker_cpu_us_per_req"],
                "user": (user - su) / n * 1e6, "sys": (system - ss) / n * 1e6,
                "faults": (faults - sf) / n,
                "rps": line["throughput_rps"], "mb_s": line.get("throughput_mb_s", 0.0)})
        print("round %d done" % (r + 1), file=sys.stderr)
    print("%-8s %8s %8s %8s %8s %10s %9s %7s  (medians of %d rounds; us, faults per request)"
          % ("worker", "floor", "user", "sys", "u+s", "rps", "MB/s", "faults", args.rounds))
    med = {}
    for name, rows in results.items():
        m = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
        m["us"] = statistics.median(row["user"] + row["sys"] for row in rows)
        med[name] = m
        print("%-8s %8.2f %8.2f %8.2f %8.2f %10.0f %9.1f %7.1f"
              % (name, m["floor"], m["user"], m["sys"], m["us"], m["rps"], m["mb_s"],
                 m["faults"]))
    if "ref" in med:
        for name, m in med.items():
            if name != "ref":
                print("%s / ref: floor %.2fx, user %.2fx, user+sys %.2fx"
                      % (name, m["floor"] / med["ref"]["floor"],
                         m["user"] / med["ref"]["user"], m["us"] / med["ref"]["us"]))
    print(json.dumps({name: {k: round(v, 2) for k, v in m.items()} for name, m in med.items()}))


if __name__ == "__main__":
    main()
