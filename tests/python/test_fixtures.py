"""The standalone worker fixtures behave as the C++ integration tests expect."""

import os
import select
import subprocess
import sys
import unittest

try:
    from . import support
except ImportError:
    import support


def script(name):
    return [sys.executable, os.path.join(support.WORKERS_DIR, name)]


class FixtureTest(unittest.TestCase):
    def test_executable(self):
        for directory in (support.WORKERS_DIR, support.ADAPTERS_DIR):
            for name in os.listdir(directory):
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    with self.subTest(path):
                        self.assertTrue(os.access(path, os.X_OK))
                        with open(path) as f:
                            self.assertEqual(f.readline(), "#!/usr/bin/env python3\n")

    def test_crash_on_start(self):
        proc = subprocess.run(script("crash_on_start.py"), capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=support.TIMEOUT)
        self.assertEqual(proc.returncode, 3)
        self.assertTrue(proc.stderr.strip())

    def test_bad_hello(self):
        worker = support.NativeWorker(argv=script("bad_hello.py"))
        self.addCleanup(worker.cleanup)
        kind, flags, frame_id, payload = worker.recv_frame()
        self.assertEqual(kind, support.RESPONSE)
        self.assertEqual(payload, {"status": "ok"})

    def test_silent(self):
        worker = support.NativeWorker(argv=script("silent.py"))
        self.addCleanup(worker.cleanup)
        ready, _, _ = select.select([worker.from_child], [], [], 0.3)
        self.assertEqual(ready, [])
        self.assertIsNone(worker.proc.poll())


if __name__ == "__main__":
    unittest.main()
