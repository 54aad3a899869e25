"""Python's own process pools as a baseline for `snakepit bench` (issue 7):
multiprocessing.Pool.apply_async and concurrent.futures.ProcessPoolExecutor
.submit of a trivial function, with one task in flight per worker and
flooded. Stdlib only; prints one JSON object per scenario.

    /usr/bin/python3 bench/baselines/mp_baseline.py [--sizes 1,2,4,8]
        [--requests 20000] [--warmup 10] [--start-method fork|spawn|forkserver]

Scenarios, per pool size N: mp_pool_startup / ppe_startup (wall time from
creating the pool until all N workers are up and N tasks have run),
mp_pool_inflight1 / ppe_inflight1 (N driver threads, each waiting for its
result before submitting the next), mp_pool_flood / ppe_flood (submit all R,
then wait; latency is submit to completion, so mostly queueing).

CPU per request: the host from getrusage(RUSAGE_SELF) (every thread,
including the pools' own feeder and result threads), the workers from
/proc/<pid>/stat deltas over the measured phase.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import resource
import sys
import threading
import time

_TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def ping():
    """The work: as small as Snakepit's `ping`, a small dict back."""
    return {"status": "ok", "pong": True}


def _announce(queue):
    """Pool initializer: tells the host this worker process is up (its pid
    is also how the host reads its CPU time)."""
    queue.put(os.getpid())


def _host_cpu_us():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1e6


def _proc_cpu_us(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        fields = f.read().rpartition(b")")[2].split()  # the name may hold spaces
    return (int(fields[11]) + int(fields[12])) * _TICK_US  # utime, stime


def _workers_cpu_us(pids):
    return sum(_proc_cpu_us(pid) for pid in pids)


def _pct(sorted_us, q):
    if not sorted_us:
        return 0.0
    return round(sorted_us[min(len(sorted_us) - 1, int(q * (len(sorted_us) - 1) + 0.5))], 1)


def _emit(record):
    print(json.dumps(record), flush=True)


class Backend:
    """One pool type behind two calls: submit(callback) and call() (blocking)."""

    def __init__(self, kind, size, ctx):
        self.kind, self.size = kind, size
        queue = ctx.SimpleQueue()
        start = time.perf_counter()
        if kind == "mp_pool":
            self.pool = ctx.Pool(size, initializer=_announce, initargs=(queue,))
        else:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                size, mp_context=ctx, initializer=_announce, initargs=(queue,))
        # N tasks at once: a ProcessPoolExecutor not in fork mode starts its
        # workers on demand, one per submit that finds none idle.
        for done in [self.submit(None) for _ in range(size)]:
            done()
        self.pids = [queue.get() for _ in range(size)]
        self.startup_ms = (time.perf_counter() - start) * 1000

    def submit(self, callback):
        """Submit ping(); callback(ok) runs on completion (any thread).
        Returns a function that blocks until the result is there."""
        if self.kind == "mp_pool":
            res = self.pool.apply_async(
                ping, callback=callback and (lambda _r: callback(True)),
                error_callback=callback and (lambda _e: callback(False)))
            return res.get
        fut = self.pool.submit(ping)
        if callback:
            fut.add_done_callback(lambda f: callback(f.exception() is None))
        return fut.result

    def close(self):
        if self.kind == "mp_pool":
            self.pool.close()
            self.pool.join()
        else:
            self.pool.shutdown(wait=True)


def _inflight1(backend, requests, warmup):
    """N driver threads, one task in flight each."""
    n = backend.size
    counts = [requests // n + (1 if i < requests % n else 0) for i in range(n)]
    latencies = [[] for _ in range(n)]
    errors = [0] * n
    barrier = threading.Barrier(n + 1)

    def drive(i):
        for _ in range(warmup):
            backend.submit(None)()
        barrier.wait()  # warmed up
        barrier.wait()  # go
        lat, clock = latencies[i], time.perf_counter_ns
        for _ in range(counts[i]):
            t = clock()
            try:
                backend.submit(None)()
            except Exception:
                errors[i] += 1
            lat.append((clock() - t) / 1000)

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    return threads, barrier, latencies, errors


def _measure(backend, mode, requests, warmup):
    if mode == "inflight1":
        threads, barrier, per_thread, errors = _inflight1(backend, requests, warmup)
        host0, work0, t0 = _host_cpu_us(), _workers_cpu_us(backend.pids), time.perf_counter()
        barrier.wait()
        for t in threads:
            t.join()
        latencies, error_count = [x for lat in per_thread for x in lat], sum(errors)
    else:  # flood: submit all, then wait for the last completion
        for _ in range(warmup * backend.size):
            backend.submit(None)()
        submitted, finished = [0] * requests, [0] * requests
        lock, all_done = threading.Lock(), threading.Event()
        state = {"left": requests, "errors": 0}

        def on_done(i):
            def callback(ok):
                finished[i] = time.perf_counter_ns()
                with lock:
                    state["errors"] += not ok
                    state["left"] -= 1
                    if state["left"] == 0:
                        all_done.set()
            return callback

        host0, work0, t0 = _host_cpu_us(), _workers_cpu_us(backend.pids), time.perf_counter()
        for i in range(requests):
            submitted[i] = time.perf_counter_ns()
            backend.submit(on_done(i))
        all_done.wait()
        latencies = [(f - s) / 1000 for s, f in zip(submitted, finished)]
        error_count = state["errors"]
    seconds = time.perf_counter() - t0
    host_us, work_us = _host_cpu_us() - host0, _workers_cpu_us(backend.pids) - work0
    latencies.sort()
    done = max(1, len(latencies))
    return {
        "scenario": "%s_%s" % (backend.kind, mode), "size": backend.size,
        "concurrency": backend.size if mode == "inflight1" else requests,
        "requests": len(latencies), "throughput_rps": round(len(latencies) / seconds, 1),
        "p50_us": _pct(latencies, 0.5), "p90_us": _pct(latencies, 0.9),
        "p99_us": _pct(latencies, 0.99), "p999_us": _pct(latencies, 0.999),
        "errors": error_count,
        "host_cpu_us_per_req": round(host_us / done, 1),
        "worker_cpu_us_per_req": round(work_us / done, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,2,4,8")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=10, help="tasks per worker before measuring")
    parser.add_argument("--start-method", default=multiprocessing.get_start_method(),
                        choices=multiprocessing.get_all_start_methods())
    parser.add_argument("--kinds", default="mp_pool,ppe")
    args = parser.parse_args()
    ctx = multiprocessing.get_context(args.start_method)
    extra = {"start_method": args.start_method, "python": sys.version.split()[0]}
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in args.kinds.split(","):
            backend = Backend(kind, size, ctx)
            try:
                _emit({"scenario": kind + "_startup", "size": size,
                       "ready_ms": round(backend.startup_ms, 1), **extra})
                for mode in ("inflight1", "flood"):
                    _emit({**_measure(backend, mode, args.requests, args.warmup), **extra})
            finally:
                backend.close()


if __name__ == "__main__":
    main()
