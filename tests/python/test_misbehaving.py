"""The misbehaving fixture's lifecycle commands (grow, stop_answering,
clear_pdeathsig) and the bridge's hang_after_response hook behind them."""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import unittest

try:
    from . import support
except ImportError:
    import support

import misbehaving
from snakepit_bridge import InvalidArgument
from snakepit_bridge.context import Context
from snakepit_bridge.registry import load_adapter

HELLO, REQUEST, RESPONSE = support.HELLO, support.REQUEST, support.RESPONSE
PING, SHUTDOWN = support.PING, support.SHUTDOWN

NEW_COMMANDS = ("grow", "stop_answering", "clear_pdeathsig")


def run_python(code, *args):
    """Runs ``code`` in a fresh interpreter (for what would change the test
    process: signal dispositions, the parent-death signal, its RSS)."""
    proc = subprocess.run([sys.executable, "-c", code, *args], env=support.child_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=support.TIMEOUT, cwd=support.ROOT)
    if proc.returncode != 0:
        raise AssertionError("exit %d: %s" % (proc.returncode, proc.stderr))
    return json.loads(proc.stdout)


def ignored_signals(pid):
    """The SigIgn mask of /proc/<pid>/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("SigIgn:"):
                return int(line.split()[1], 16)
    raise AssertionError("no SigIgn in /proc/%d/status" % pid)


def sigterm_ignored(pid):
    return bool(ignored_signals(pid) & (1 << (signal.SIGTERM - 1)))


class DirectCallTest(unittest.TestCase):
    """The commands called as functions, with a Context of their own."""

    def setUp(self):
        self.addCleanup(misbehaving._held.clear)

    def test_adapter_lists_the_commands(self):
        adapter = load_adapter("misbehaving")
        for name in NEW_COMMANDS + ("ignore_sigterm", "spawn_grandchild", "hang"):
            self.assertIn(name, adapter.commands)

    def test_grow_accumulates(self):
        ctx = Context()
        self.assertEqual(misbehaving.grow(ctx, 1), {"held_mb": 1})
        self.assertEqual(misbehaving.grow(ctx, 2), {"held_mb": 3})
        self.assertEqual(misbehaving.grow(ctx, 0), {"held_mb": 3})
        self.assertEqual([len(b) for b in misbehaving._held], [1 << 20, 2 << 20, 0])
        # Every page was written.
        self.assertEqual(misbehaving._held[1].count(1), (2 << 20) // 4096)

    def test_grow_refuses_bad_sizes(self):
        for mb in (-1, 1.5, "3", True, None):
            with self.subTest(mb=mb), self.assertRaises(InvalidArgument):
                misbehaving.grow(Context(), mb)
        self.assertEqual(misbehaving._held, [])

    def test_grow_raises_the_resident_size(self):
        # In a fresh interpreter, where freed memory cannot be reused.
        result = run_python(r'''
import json, misbehaving
from snakepit_bridge.context import Context
def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
before = rss_kib()
held = misbehaving.grow(Context(), 64)
print(json.dumps({"held": held, "grew_kib": rss_kib() - before}))
''')
        self.assertEqual(result["held"], {"held_mb": 64})
        self.assertGreaterEqual(result["grew_kib"], 60 << 10)

    def test_stop_answering_sets_the_hook(self):
        ctx = Context()
        self.assertIs(ctx.bridge.hang_after_response, False)
        self.assertEqual(misbehaving.stop_answering(ctx), {"ok": True})
        self.assertIs(ctx.bridge.hang_after_response, True)
        self.assertIsNone(ctx.bridge.exit_after_response)

    def test_clear_pdeathsig(self):
        result = run_python(r'''
import ctypes, json, os, signal, misbehaving
from snakepit_bridge.context import Context
libc = ctypes.CDLL(None, use_errno=True)
def pdeathsig():
    sig = ctypes.c_int(-1)
    assert libc.prctl(2, ctypes.byref(sig), 0, 0, 0) == 0  # PR_GET_PDEATHSIG
    return sig.value
assert libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0  # PR_SET_PDEATHSIG
before = pdeathsig()
ctx = Context()
result = misbehaving.clear_pdeathsig(ctx)
print(json.dumps({"result": result, "pid": os.getpid(), "before": before,
                  "after": pdeathsig(),
                  "sigterm_ignored": signal.getsignal(signal.SIGTERM) == signal.SIG_IGN,
                  "hang": ctx.bridge.hang_after_response}))
''')
        self.assertEqual(result["result"], {"pid": result["pid"]})
        self.assertEqual((result["before"], result["after"]), (signal.SIGKILL, 0))
        self.assertIs(result["sigterm_ignored"], True)
        self.assertIs(result["hang"], True)

    def test_clear_pdeathsig_answers_once_the_barrier_is_full(self):
        with tempfile.TemporaryDirectory() as barrier:
            open(os.path.join(barrier, "another-worker"), "w").close()
            result = run_python(r'''
import json, os, sys, misbehaving
from snakepit_bridge.context import Context
result = misbehaving.clear_pdeathsig(Context(), barrier=sys.argv[1], count=2)
print(json.dumps({"result": result, "pid": os.getpid()}))
''', barrier)
            self.assertEqual(result["result"], {"pid": result["pid"]})
            self.assertEqual(sorted(os.listdir(barrier)),
                             sorted(["another-worker", str(result["pid"])]))


class NativeWorkerTest(unittest.TestCase):
    def start(self):
        worker = support.NativeWorker("misbehaving")
        self.addCleanup(worker.cleanup)
        self.assertEqual(worker.recv_frame()[0], HELLO)
        return worker

    def assert_silent(self, fd):
        self.assertEqual(select.select([fd], [], [], 0)[0], [])

    def test_grow(self):
        worker = self.start()
        self.assertEqual(worker.request(1, "grow", mb=2), (RESPONSE, 0, 1, {"held_mb": 2}))
        self.assertEqual(worker.request(2, "grow", mb=3), (RESPONSE, 0, 2, {"held_mb": 5}))
        kind, flags, frame_id, error = worker.request(3, "grow", mb=-1)
        self.assertEqual((kind, flags, frame_id, error["code"]),
                         (RESPONSE, support.ERROR, 3, "InvalidArgument"))

    def test_stop_answering(self):
        worker = self.start()
        self.assertEqual(worker.request(1, "stop_answering"), (RESPONSE, 0, 1, {"ok": True}))
        worker.send_frame(PING, 5)
        worker.send_frame(REQUEST, 2, {"command": "pid", "args": {}})
        worker.send_frame(SHUTDOWN, 0)
        worker.close_input()
        # Once it sleeps it has read nothing more, so it answered nothing.
        support.StackDumps(worker.proc).dump_until(" in sleep_forever\n")
        self.assert_silent(worker.from_child)
        self.assertIsNone(worker.proc.poll())
        self.assertFalse(sigterm_ignored(worker.proc.pid))
        worker.proc.send_signal(signal.SIGTERM)
        self.assertEqual(worker.wait(), 0)

    def test_clear_pdeathsig(self):
        worker = self.start()
        self.assertEqual(worker.request(1, "clear_pdeathsig"),
                         (RESPONSE, 0, 1, {"pid": worker.proc.pid}))
        worker.close_input()
        support.StackDumps(worker.proc).dump_until(" in sleep_forever\n")
        self.assertTrue(sigterm_ignored(worker.proc.pid))
        self.assertIsNone(worker.proc.poll())
        worker.proc.kill()
        self.assertEqual(worker.wait(), -signal.SIGKILL)


class V0WorkerTest(unittest.TestCase):
    def test_stop_answering(self):
        worker = support.V0Worker([sys.executable, "-m", "snakepit_bridge",
                                   "--adapter", "misbehaving", "--protocol", "snakepit-v0"])
        self.addCleanup(worker.cleanup)
        response = worker.request(1, "stop_answering")
        self.assertEqual((response["id"], response["result"]), (1, {"ok": True}))
        body = support.compact({"id": 2, "command": "pid", "args": {}})
        worker.proc.stdin.write(len(body).to_bytes(4, "big") + body)
        worker.close_input()
        support.StackDumps(worker.proc).dump_until(" in sleep_forever\n")
        self.assertEqual(select.select([worker.reader.fd], [], [], 0)[0], [])
        self.assertIsNone(worker.proc.poll())
        worker.proc.send_signal(signal.SIGTERM)
        self.assertEqual(worker.wait(), 0)


if __name__ == "__main__":
    unittest.main()
