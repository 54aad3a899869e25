"""The generic adapter's commands, called directly."""

import os
import platform
import time
import unittest

try:
    from . import support
except ImportError:
    import support

from snakepit_bridge import InvalidArgument, generic
from snakepit_bridge.context import BridgeState, Context


class GenericTest(unittest.TestCase):
    def setUp(self):
        self.state = BridgeState(worker_id="w-9")
        self.ctx = Context(1, "x", None, self.state)

    def test_ping(self):
        self.state.requests = 4
        result = generic.ping(self.ctx, worker_id="w-9", initialization=True)
        self.assertEqual(result["status"], "ok")
        self.assertEqual(result["requests"], 4)
        self.assertEqual(result["pid"], os.getpid())
        self.assertEqual(result["python"], platform.python_version())
        self.assertEqual(result["worker_id"], "w-9")
        self.assertEqual(result["echo"], {"worker_id": "w-9", "initialization": True})
        self.assertIsInstance(result["uptime_s"], float)
        self.assertGreaterEqual(result["uptime_s"], 0.0)

    def test_echo(self):
        args = {"a": [1, {"b": None}], "s": "\u00e9"}
        self.assertEqual(generic.echo(self.ctx, **args), args)
        self.assertEqual(generic.echo(self.ctx), {})

    def test_compute(self):
        for op, expected in (("add", 7), ("subtract", 3), ("multiply", 10), ("divide", 2.5)):
            with self.subTest(op):
                self.assertEqual(generic.compute(self.ctx, op, 5, 2),
                                 {"operation": op, "a": 5, "b": 2, "result": expected})
        self.assertEqual(generic.compute(self.ctx, "add", 0.5, 0.25)["result"], 0.75)

    def test_compute_errors(self):
        with self.assertRaises(InvalidArgument) as cm:
            generic.compute(self.ctx, "divide", 1, 0)
        self.assertEqual(cm.exception.error_type, "ZeroDivisionError")
        self.assertEqual(str(cm.exception), "division by zero")
        with self.assertRaises(InvalidArgument) as cm:
            generic.compute(self.ctx, "modulo", 1, 2)
        for op in ("add", "subtract", "multiply", "divide"):
            self.assertIn(op, str(cm.exception))
        for a, b in ((True, 1), (1, False), ("1", 2), (None, 2), (1, [2])):
            with self.subTest(a=a, b=b), self.assertRaises(InvalidArgument):
                generic.compute(self.ctx, "add", a, b)

    def test_info(self):
        result = generic.info(self.ctx)
        self.assertEqual(result["bridge"], "snakepit_bridge")
        self.assertEqual(result["version"], "0.1.0")
        self.assertEqual(result["adapter"], "snakepit_bridge.generic")
        self.assertEqual(result["commands"], support.GENERIC_COMMANDS)
        self.assertEqual(result["pid"], os.getpid())
        self.assertEqual(result["platform"], platform.platform())
        self.assertEqual(result["python"], platform.python_version())

    def test_sleep(self):
        start = time.monotonic()
        self.assertEqual(generic.sleep(self.ctx, 20), {"slept_ms": 20})
        self.assertGreaterEqual(time.monotonic() - start, 0.02)
        self.assertEqual(generic.sleep(self.ctx, 0), {"slept_ms": 0})
        for bad in (-1, 1.5, True, "10"):
            with self.subTest(bad), self.assertRaises(InvalidArgument):
                generic.sleep(self.ctx, bad)

    def test_sleep_cancelled(self):
        self.ctx.cancel()
        result = generic.sleep(self.ctx, 60_000)
        self.assertTrue(result["cancelled"])
        self.assertLess(result["slept_ms"], 1000)

    def test_crash_validates(self):
        for bad in (-1, 256, "1", True):
            with self.subTest(bad), self.assertRaises(InvalidArgument):
                generic.crash(self.ctx, bad)


if __name__ == "__main__":
    unittest.main()
