"""Argument checks off the fast path (registry.Command): imported on a
binding failure, or to read the parameters of a callable that is not a
function or a bound method of one."""

from .registry import KEYWORD_ONLY, POSITIONAL_ONLY, VAR_KEYWORD, VAR_POSITIONAL


def inspect_parameters(fn):
    """registry.read_parameters(fn) for callables other than functions and their
    methods, from inspect.signature; None where it raises."""
    import inspect
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature
        return None
    return [(p.name, int(p.kind), p.default is not p.empty)
            for p in sig.parameters.values()]


def bind(params, ctx, args):
    """Raise the TypeError ``Signature.bind(ctx, **args)`` raises, if any.

    inspect.Signature._bind (CPython 3.8 to 3.13) for one positional argument
    (``ctx``) and the keyword arguments ``args``.
    """
    kwargs = dict(args)
    params = iter(params)
    pending = ()
    param = next(params, None)  # takes ctx
    if param is None or param[1] in (KEYWORD_ONLY, VAR_KEYWORD):
        raise TypeError("too many positional arguments")
    if param[1] != VAR_POSITIONAL:
        if param[0] in kwargs and param[1] != POSITIONAL_ONLY:
            raise TypeError("multiple values for argument %r" % (param[0],))
        param = next(params, None)  # the first one left to keywords
        if param is not None and param[1] != VAR_POSITIONAL:
            name, kind, has_default = param
            if name in kwargs:
                if kind == POSITIONAL_ONLY:
                    raise TypeError("%r parameter is positional only, "
                                    "but was passed as a keyword" % (name,))
            elif kind != VAR_KEYWORD and not has_default:
                raise TypeError("missing a required argument: %r" % (name,))
            pending = (param,)
    varkw = False
    for group in (pending, params):
        for name, kind, has_default in group:
            if kind == VAR_KEYWORD:
                varkw = True
            elif kind == VAR_POSITIONAL:
                continue
            elif name in kwargs:
                if kind == POSITIONAL_ONLY:
                    raise TypeError("%r parameter is positional only, "
                                    "but was passed as a keyword" % (name,))
                del kwargs[name]
            elif not has_default:
                raise TypeError("missing a required argument: %r" % (name,))
    if kwargs and not varkw:
        raise TypeError("got an unexpected keyword argument %r" % (next(iter(kwargs)),))
