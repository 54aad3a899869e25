"""Start-up cost guards: what the bridge imports, and the paths that replace
heavy modules (hand-parsed command line, _json bound directly)."""

import json
import subprocess
import sys
import unittest

try:
    from . import support
except ImportError:
    import support

from snakepit_bridge import __main__ as bridge_main

# Modules the bridge must not import before serving (each costs milliseconds;
# inspect alone ~20 ms). They stay allowed on rare paths: a failing command
# (traceback), info (platform), invalid JSON (json), --help (argparse).
HEAVY = ("inspect", "argparse", "traceback", "linecache", "tokenize", "platform",
         "json", "re", "enum", "ast", "datetime", "collections", "functools",
         "typing", "types", "importlib.util", "dis")


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], env=support.child_env(**env),
                          capture_output=True, text=True, timeout=support.TIMEOUT)


class ImportsTest(unittest.TestCase):
    def test_serving_imports_no_heavy_module(self):
        # A native start-up, a request for every happy path, a v0 response:
        # list what was imported beyond what the interpreter had already.
        code = r'''
import os, sys
before = set(sys.modules)
from snakepit_bridge import __main__, generic, v0
from snakepit_bridge.context import BridgeState, Context
from snakepit_bridge.registry import load_adapter
from snakepit_bridge.runtime import NativeBridge, run_command, encode_result
adapter = load_adapter("snakepit_bridge.generic")
state = BridgeState(adapter)
r, w = os.pipe()
NativeBridge(adapter, state, r, w, 1 << 20).send_hello()
for name, args in (("ping", {}), ("echo", {"x": [1.5, "\u00e9"]}),
                   ("compute", {"operation": "add", "a": 1, "b": 2}),
                   ("compute", {"operation": "add"}), ("nope", {})):
    ok, value = run_command(adapter.commands, Context(1, name, None, state), name, args)
    encode_result(name, value, 1 << 20)
v0.timestamp()
print(" ".join(sorted(set(sys.modules) - before)))
'''
        proc = run_python(code)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        loaded = set(proc.stdout.split())
        self.assertIn("snakepit_bridge.runtime", loaded)
        self.assertEqual(sorted(loaded.intersection(HEAVY)), [])

    def test_rare_paths_still_work_in_a_fresh_process(self):
        # Each lazily imported module, used first in a process where it was
        # never imported.
        code = r'''
from snakepit_bridge import codec, generic
from snakepit_bridge.context import Context
from snakepit_bridge.registry import Command
from snakepit_bridge.runtime import run_command
for bad in (b"{x}", b'"\\q"', b"[1,", b"", b"1 2"):
    try:
        codec.loads(bad)
    except ValueError as exc:
        print(type(exc).__name__, exc)
print(codec.loads(b" [1] "))
def boom(ctx):
    raise KeyError("k")
def needs(ctx, a):
    pass
cmds = {"boom": Command("boom", boom), "needs": Command("needs", needs)}
print(run_command(cmds, Context(), "boom", {})[1]["traceback"].splitlines()[0])
print(run_command(cmds, Context(), "needs", {})[1]["message"])
print(generic.info(Context())["platform"] != "")
'''
        proc = run_python(code)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        expected = []
        for bad in ("{x}", '"\\q"', "[1,", "", "1 2"):
            try:
                json.JSONDecoder().decode(bad)
            except ValueError as exc:
                expected.append("JSONDecodeError %s" % exc)
        expected += ["[1]", "Traceback (most recent call last):",
                     "needs(): missing a required argument: 'a'", "True"]
        self.assertEqual(proc.stdout.splitlines(), expected)


class ArgumentParsingTest(unittest.TestCase):
    """The hand parser agrees with argparse wherever it answers itself."""

    def test_fast_path_matches_argparse(self):
        cases = [
            [], ["--adapter", "m"], ["--adapter=m:C"], ["--protocol", "snakepit-v0"],
            ["--protocol=native", "--adapter", "a.b"], ["--adapter", "x", "--adapter", "y"],
            ["--adapter=x=y"], ["--adapter", "m", "--protocol=v9"],
        ]
        for argv in cases:
            with self.subTest(argv):
                self.assertEqual(bridge_main._parse_args(argv),
                                 bridge_main._parse_args_argparse(argv))

    def test_everything_else_goes_to_argparse(self):
        # Valid for argparse, but not the fast path's forms.
        for argv, expected in ((["--adapt", "m"], ("m", None)),
                               (["--proto=snakepit-v0"], ("snakepit_bridge.generic",
                                                          "snakepit-v0")),
                               (["--adapter="], ("", None)),
                               (["--adapter", ""], ("", None)),
                               (["--adapter=-m"], ("-m", None))):
            with self.subTest(argv):
                self.assertEqual(bridge_main._parse_args(argv), expected)

    def run_bridge(self, *argv):
        return subprocess.run([sys.executable, "-m", "snakepit_bridge", *argv],
                              env=support.child_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=support.TIMEOUT)

    def test_usage_errors_exit_2(self):
        for argv, message in ((["--bogus"], "unrecognized arguments: --bogus"),
                              (["positional"], "unrecognized arguments: positional"),
                              (["--adapter"], "argument --adapter: expected one argument"),
                              (["--adapter", "--protocol", "native"],
                               "argument --adapter: expected one argument")):
            with self.subTest(argv):
                proc = self.run_bridge(*argv)
                self.assertEqual(proc.returncode, 2)
                self.assertIn("usage: python3 -m snakepit_bridge", proc.stderr)
                self.assertIn(message, proc.stderr)

    def test_help(self):
        proc = self.run_bridge("--help")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("usage: python3 -m snakepit_bridge", proc.stdout)
        self.assertIn("--adapter", proc.stdout)


if __name__ == "__main__":
    unittest.main()
