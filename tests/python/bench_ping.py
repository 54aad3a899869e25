#!/usr/bin/env python3
"""Measures the bridge loop: N sequential requests over the native pipes.

    /usr/bin/python3 tests/python/bench_ping.py [N]

Reports requests/s (round trips, driver included) and the bridge process's
user+sys CPU per request (from os.wait4), for the generic ``ping`` command,
``echo`` with a small argument, and protocol-level ping/pong frames.
Start-up CPU (interpreter + imports) is measured with N=0 and subtracted.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402


# Reference floor: the cheapest possible Python worker (answers every read
# with a pong header; no parsing), to separate kernel pipe costs from ours.
_FLOOR = r'''
import os
r = int(os.environ["SNAKEPIT_FD_IN"]); w = int(os.environ["SNAKEPIT_FD_OUT"])
os.write(w, b"\x00\x00\x00\x0c\x01" + bytes(11))
while True:
    d = os.read(r, 65536)
    if not d:
        break
    os.write(w, b"\x00\x00\x00\x0c\x0a\x00\x00\x00" + d[8:16])
'''


def run(n, kind):
    argv = [sys.executable, "-c", _FLOOR] if kind == "floor" else None
    worker = support.NativeWorker(argv=argv)
    reader = worker.reader
    worker.recv_frame()  # hello
    if kind in ("frame-ping", "floor"):
        msgs = [support.frame(support.PING, i + 1) for i in range(n)]
    else:
        command, args = {"ping": ("ping", {}), "echo": ("echo", {"x": 1, "s": "hello"})}[kind]
        msgs = [support.frame(support.REQUEST, i + 1, {"command": command, "args": args})
                for i in range(n)]
    write, fd, unpack = os.write, worker.to_child, support.HEADER.unpack
    start = time.perf_counter()
    for msg in msgs:
        write(fd, msg)
        length, k, flags, _, fid = unpack(reader.read_exact(16))
        if length > 12:
            reader.read_exact(length - 12)
        assert flags == 0, flags
    elapsed = time.perf_counter() - start
    worker.send_frame(support.SHUTDOWN, 0)
    worker.close_input()
    _, status, usage = os.wait4(worker.proc.pid, 0)
    worker.proc.returncode = os.waitstatus_to_exitcode(status)
    worker.cleanup()
    return elapsed, usage.ru_utime, usage.ru_stime


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    print("%-10s %9s %8s %8s %8s  (bridge CPU per request, start-up excluded)"
          % ("kind", "req/s", "user_us", "sys_us", "total_us"))
    for kind in ("ping", "echo", "frame-ping", "floor"):
        base = min((run(0, kind) for _ in range(3)), key=lambda r: r[1] + r[2])
        elapsed, user, system = run(n, kind)
        user = (user - base[1]) / n * 1e6
        system = (system - base[2]) / n * 1e6
        print("%-10s %9.0f %8.2f %8.2f %8.2f" % (kind, n / elapsed, user, system, user + system))


if __name__ == "__main__":
    main()
