"""The @command decorator, adapter loading and argument checks."""

import inspect
import sys
import types
import unittest

try:
    from . import support  # noqa: F401  (sets sys.path)
except ImportError:
    import support  # noqa: F401

import snakepit_bridge
from snakepit_bridge import command
from snakepit_bridge.context import Context
from snakepit_bridge.registry import (AdapterError, Command, command_info,
                                      commands_of_module, load_adapter)


def make_module(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


class DecoratorTest(unittest.TestCase):
    def test_bare(self):
        @command
        def hello(ctx):
            return "hi"
        info = command_info(hello)
        self.assertEqual((info.name, info.streaming), ("hello", False))
        self.assertEqual(hello(None), "hi")  # still a plain function

    def test_with_options(self):
        @command(name="renamed", streaming=True)
        def f(ctx):
            pass
        info = command_info(f)
        self.assertEqual((info.name, info.streaming), ("renamed", True))

    def test_empty_call(self):
        @command()
        def g(ctx):
            pass
        self.assertEqual(command_info(g).name, "g")

    def test_bad_name(self):
        with self.assertRaises(ValueError):
            command(name="")

    def test_exports(self):
        for name in ("command", "Context", "SnakepitError", "InvalidArgument", "NotFound",
                     "FailedPrecondition", "Unavailable", "ResourceExhausted",
                     "Cancelled", "DeadlineExceeded"):
            self.assertTrue(hasattr(snakepit_bridge, name), name)
        self.assertEqual(snakepit_bridge.__version__, "0.1.0")


@command
def _mod_a(ctx):
    return "a"


class AdapterLoadingTest(unittest.TestCase):
    def test_module_scan(self):
        @command(name="b")
        def fb(ctx, x):
            return x

        def plain(ctx):
            pass
        module = make_module("_t_adapter_mod", fa=_mod_a, fb=fb, plain=plain,
                             command=command, Context=Context)
        self.assertEqual(sorted(commands_of_module(module)), ["_mod_a", "b"])
        adapter = load_adapter("_t_adapter_mod")
        self.assertEqual(adapter.command_names, ["_mod_a", "b"])
        self.assertEqual(adapter.spec, "_t_adapter_mod")

    def test_class_adapter(self):
        class Calc:
            instances = 0

            def __init__(self):
                Calc.instances += 1
                self.base = 10

            @command
            def add(self, ctx, x):
                return self.base + x

            @command(name="named")
            def other(self, ctx):
                return "named"

            @command
            @staticmethod
            def static(ctx):
                return "static"

            def helper(self):
                pass
        make_module("_t_adapter_cls", Calc=Calc)
        adapter = load_adapter("_t_adapter_cls:Calc")
        self.assertEqual(Calc.instances, 1)
        self.assertEqual(adapter.command_names, ["add", "named", "static"])
        ctx = Context()
        self.assertEqual(adapter.commands["add"].fn(ctx, x=5), 15)
        self.assertEqual(adapter.commands["static"].fn(ctx), "static")
        adapter.commands["add"].check(ctx, {"x": 1})
        with self.assertRaises(TypeError):
            adapter.commands["add"].check(ctx, {})

    def test_errors(self):
        make_module("_t_empty")

        def raises():
            raise RuntimeError("no")

        class Broken:
            def __init__(self):
                raise RuntimeError("cannot build")

        make_module("_t_broken_cls", Broken=Broken)

        @command(name="dup")
        def one(ctx):
            pass

        @command(name="dup")
        def two(ctx):
            pass
        make_module("_t_dup", one=one, two=two)
        for spec in ("_t_no_such_module_xyz", "_t_empty", "_t_empty:Nope",
                     "_t_broken_cls:Broken", "_t_dup", "", ":X", "_t_empty:"):
            with self.subTest(spec), self.assertRaises(AdapterError):
                load_adapter(spec)

    def test_generic_loads(self):
        adapter = load_adapter("snakepit_bridge.generic")
        self.assertEqual(adapter.command_names,
                         ["compute", "crash", "echo", "info", "ping", "sleep"])

    def test_misbehaving_fixture_loads(self):
        adapter = load_adapter("misbehaving")
        for name in ("print_lines", "spawn_grandchild", "ignore_sigterm", "hang",
                     "write_garbage", "huge_frame", "wrong_id", "exit_after_response", "pid"):
            self.assertIn(name, adapter.commands)


class ArgumentCheckTest(unittest.TestCase):
    """Command.check agrees with inspect.Signature.bind on every signature."""

    def test_matches_bind(self):
        def f1(ctx): pass
        def f2(ctx, a, b=1): pass
        def f3(ctx, **kw): pass
        def f4(ctx, a, *, k, m=2, **kw): pass
        def f5(ctx, /, a, **kw): pass
        def f6(ctx, *args): pass
        def f7(ctx, a, /, b): pass
        def f8(): pass
        arg_sets = [{}, {"a": 1}, {"a": 1, "b": 2}, {"b": 2}, {"zz": 1}, {"ctx": 1},
                    {"a": 1, "k": 2}, {"a": 1, "k": 2, "m": 3, "q": 4}, {"kw": 1}]
        ctx = Context()
        for fn in (f1, f2, f3, f4, f5, f6, f7, f8):
            cmd = Command(fn.__name__, fn)
            sig = inspect.signature(fn)
            for args in arg_sets:
                with self.subTest(fn=fn.__name__, args=args):
                    try:
                        sig.bind(ctx, **args)
                        expected = None
                    except TypeError as exc:
                        expected = str(exc)
                    try:
                        cmd.check(ctx, args)
                        got = None
                    except TypeError as exc:
                        got = str(exc)
                    self.assertEqual(got, expected)


if __name__ == "__main__":
    unittest.main()
