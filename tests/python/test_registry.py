"""The @command decorator, adapter loading and argument checks."""

import functools
import inspect
import subprocess
import sys
import types
import unittest

try:
    from . import support  # (sets sys.path)
except ImportError:
    import support

import snakepit_bridge
from snakepit_bridge import command, registry
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
                         support.GENERIC_COMMANDS)

    def test_misbehaving_fixture_loads(self):
        adapter = load_adapter("misbehaving")
        for name in ("print_lines", "spawn_grandchild", "ignore_sigterm", "hang",
                     "write_garbage", "huge_frame", "wrong_id", "exit_after_response", "pid"):
            self.assertIn(name, adapter.commands)


def _signatures():
    """Parameter lists covering every kind, default and ordering."""
    for first in ("ctx", "ctx=None", "*ctx", ""):
        for slash in (False, True):
            for pos in ((), ("a",), ("a", "b=1"), ("a=1",)):
                for var in ("", "*args"):
                    for kwonly in ((), ("k",), ("k=2",), ("k", "m=3")):
                        for varkw in ("", "**kw"):
                            if first.startswith("*") and (pos or var or slash):
                                continue
                            params = ([first] if first else []) + list(pos)
                            if slash:
                                if not params:
                                    continue
                                params.insert(1, "/")
                            if var:
                                params.append(var)
                            elif kwonly and not first.startswith("*"):
                                params.append("*")
                            params += list(kwonly) + ([varkw] if varkw else [])
                            yield ", ".join(params)


def _bind_error(check, /, *args, **kwargs):
    """The message of the TypeError check(*args, **kwargs) raises, or None."""
    try:
        check(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


class ArgumentCheckTest(unittest.TestCase):
    """Command.check agrees with inspect.Signature.bind on every signature."""

    ARG_SETS = [{}, {"a": 1}, {"a": 1, "b": 2}, {"b": 2}, {"zz": 1}, {"ctx": 1},
                {"a": 1, "k": 2}, {"a": 1, "k": 2, "m": 3, "q": 4}, {"kw": 1}, {"k": 1},
                {"args": 1}, {"zz": 1, "a": 1}, {"a": 1, "zz": 2, "yy": 3},
                {"ctx": 1, "a": 2, "k": 3}, {"self": 1}]

    def assert_matches_bind(self, fn, label):
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        cmd = Command("x", fn)
        if sig is None:
            self.assertIsNone(cmd.parameters, label)
        else:
            self.assertEqual(list(cmd.parameters),
                             [(p.name, int(p.kind), p.default is not p.empty)
                              for p in sig.parameters.values()], label)
        ctx = Context()
        for args in self.ARG_SETS:
            expected = None if sig is None else _bind_error(sig.bind, ctx, **args)
            got = _bind_error(cmd.check, ctx, dict(args))
            if got != expected:
                self.fail("%s, args %r: check says %r, Signature.bind %r"
                          % (label, args, got, expected))

    def test_matches_bind(self):
        def f1(ctx): pass
        def f2(ctx, a, b=1): pass
        def f3(ctx, **kw): pass
        def f4(ctx, a, *, k, m=2, **kw): pass
        def f5(ctx, /, a, **kw): pass
        def f6(ctx, *args): pass
        def f7(ctx, a, /, b): pass
        def f8(): pass
        for fn in (f1, f2, f3, f4, f5, f6, f7, f8):
            self.assert_matches_bind(fn, fn.__name__)

    def test_matches_bind_generated(self):
        """Functions, bound methods and classmethods of every signature shape."""
        for params in _signatures():
            namespace = {}
            try:
                exec("def f(%s): pass\n"
                     "class C:\n"
                     "    def m(self, %s): pass\n"
                     "    @classmethod\n"
                     "    def c(cls, %s): pass\n" % (params, params, params), namespace)
            except SyntaxError:  # e.g. a parameter without default after one with
                continue
            for label, fn in (("def f(%s)", namespace["f"]),
                              ("method m(self, %s)", namespace["C"]().m),
                              ("classmethod c(cls, %s)", namespace["C"].c)):
                with self.subTest(label % params):
                    self.assert_matches_bind(fn, label % params)

    def test_methods_without_a_bound_parameter(self):
        class C:
            def none(): pass
            def star(*args): pass
            def kwonly(*, k): pass
            def varkw(**kw): pass
        for name in ("none", "star", "kwonly", "varkw"):
            with self.subTest(name):
                self.assert_matches_bind(getattr(C(), name), name)

    def test_other_callables(self):
        """Where inspect reads the signature differently from __code__."""
        def wrapped(ctx, a, *, k=1): pass

        @functools.wraps(wrapped)
        def wrapper(*args, **kwargs): pass

        class Callable:
            def __call__(self, ctx, a, b=2): pass

        def with_signature(*args, **kwargs): pass
        with_signature.__signature__ = inspect.signature(wrapped)

        class Partial:
            def f(self, ctx, a, b): pass
            g = functools.partialmethod(f, b=3)

        cases = {
            "functools.wraps": wrapper,
            "functools.partial": functools.partial(wrapped, k=5),
            "partial positional": functools.partial(wrapped, None),
            "partialmethod": Partial().g,
            "partialmethod of the class": Partial.g,
            "callable object": Callable(),
            "__signature__": with_signature,
            "lambda": lambda ctx, *, a: None,
            "builtin": len,
            "builtin without signature": dict,
            "class": Context,
        }
        for label, fn in cases.items():
            with self.subTest(label):
                self.assert_matches_bind(fn, label)

    def test_common_commands_do_not_import_inspect(self):
        code = ("import sys\n"
                "from snakepit_bridge.registry import Command, load_adapter\n"
                "class C:\n"
                "    def m(self, ctx, a, *, k=1): pass\n"
                "cmd = Command('m', C().m)\n"
                "cmd.check(None, {'a': 1})\n"
                "load_adapter('snakepit_bridge.generic')\n"
                "print('inspect' in sys.modules)\n")
        out = subprocess.run([sys.executable, "-c", code], env=support.child_env(),
                             capture_output=True, text=True, timeout=support.TIMEOUT)
        self.assertEqual(out.stdout.strip(), "False", out.stderr)

    def test_commands_of_instance_matches_getattr_static(self):
        class Meta(type):
            @command
            def on_meta(cls, ctx): pass

        class Base:
            @command
            def inherited(self, ctx): pass

            @command
            def overridden(self, ctx): pass

        class Derived(Base, metaclass=Meta):
            overridden = None

            @command
            @staticmethod
            def static(ctx): pass

            @command
            @classmethod
            def klass(cls, ctx): pass

            @property
            def prop(self):
                raise AssertionError("properties must not be evaluated")

        for attr in dir(Derived) + ["on_meta", "missing"]:
            with self.subTest(attr):
                self.assertIs(registry._getattr_static(Derived, attr),
                              inspect.getattr_static(Derived, attr, None))
        self.assertEqual(sorted(registry.commands_of_instance(Derived())),
                         ["inherited", "klass", "static"])


if __name__ == "__main__":
    unittest.main()
