"""Forbidden functions made unusable in a sandbox, however the student's code reaches them.

Installed in the sandbox before student code runs, from the problem's `forbidden` list:

- A forbidden function or method is replaced wherever it is bound under its name: in the module
  that defines it, in every module that imported it, and in every class that holds it (subclasses and
  copies such as `torch.FloatTensor`). `getattr` with a built string, `importlib`, `__import__`,
  `vars(torch)[...]` and aliases all find the replacement.
- A forbidden torch operator (a builtin such as `torch.conv2d`) is refused by the dispatcher itself,
  so every path to it fails (`F.conv2d`, `torch.ops.aten.conv2d`, `nn.Conv2d`).
- A forbidden class cannot be instantiated and its `forward` cannot run.
- A forbidden module means its public functions, and for the differentiation machinery the places
  every use goes through (:data:`MACHINERY`): the C++ autograd engine's `run_backward` (every
  reverse-mode path: `Tensor.backward`, `torch.autograd.grad`, `torch.func.grad`, `jacrev`, ...),
  entering a forward-mode level (`jvp`, `jacfwd`, dual tensors), functorch's transform levels, and the
  recorded graph (a tensor's `grad_fn` reads as None, so no backward node can be called by hand).

A replaced function raises :class:`ForbiddenCall` (a BaseException, past `except Exception`) and
records the trip; the server reports the record with every reply, and the trusted side then takes
the problem's points. A student who catches the exception still got nothing computed. What native
code can do (ctypes, a compiled extension) is beyond these gates: see the README's Security section.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import inspect
import sys
import types
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from grader.errors import ForbiddenCall

_IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE
_tripped: list[str] = []


def take() -> list[str]:
    """The forbidden names called since the last take, each once, in the order first called."""
    names = list(dict.fromkeys(_tripped))
    _tripped.clear()
    return names


def tripwire(name: str) -> Callable[..., Any]:
    """A function that records a call of `name` and refuses it."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        _tripped.append(name)
        raise ForbiddenCall(f"{name} is forbidden in this problem")

    forbidden.__name__ = forbidden.__qualname__ = name.rsplit(".", 1)[-1]
    return forbidden


def _snapshot_classes() -> list[type]:
    """Every class bound in a loaded module, taken once (in the zygote, before it forks sandboxes)."""
    seen: dict[int, type] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isinstance() reads __class__, which some deprecated objects warn about
        for module in list(sys.modules.values()):
            try:
                namespace = vars(module)
            except TypeError:
                continue
            for value in list(namespace.values()):
                if isinstance(value, type):
                    seen.setdefault(id(value), value)
    return list(seen.values())


_CLASSES = _snapshot_classes()


# -- installing --------------------------------------------------------------------------------------


class _Plan:
    """What one installation replaces: (holder, attribute, original, replacement), and operators to refuse.

    Made in two steps. The rules are resolved into functions, methods and operators; then `locate`
    finds where each function and method is bound, a walk of every loaded module and class. The
    walk is what costs (tens of milliseconds, and in a forked sandbox a copy of every page it reads,
    since reading an object writes its reference count), so the zygote walks once for each list of
    rules and its sandboxes only `apply` what it found.
    """

    def __init__(self) -> None:
        self.functions: dict[int, tuple[Any, str, Callable[..., Any]]] = {}  # id(original) -> original, name, wire
        self.methods: list[tuple[type, str, Any, Any]] = []
        self.operators: dict[str, str] = {}  # aten operator -> the rule that forbids it
        self.gates: list[Callable[[], None]] = []  # MACHINERY's own installers, run on apply
        self.unknown: list[str] = []  # rules that name nothing here
        # Found by `locate`: the module namespaces binding a function, the classes holding a method.
        self.bindings: list[tuple[dict[str, Any], str, Any, Callable[..., Any]]] = []
        self.holders: list[tuple[type, str, Any, Any]] = []
        self.modules_seen = 0  # how many modules were loaded when `locate` walked them

    def function(self, original: Any, label: str) -> None:
        name = getattr(original, "__name__", None)
        if isinstance(name, str) and id(original) not in self.functions:
            self.functions[id(original)] = (original, name, tripwire(label))

    def method(self, owner: type, name: str, label: str) -> None:
        original = owner.__dict__.get(name)
        if original is not None:
            self.methods.append((owner, name, original, tripwire(label)))

    def locate(self) -> None:
        """Find every module namespace that binds a planned function and every class that holds a planned method."""
        self.modules_seen = len(sys.modules)
        self.bindings = self._bindings_in(list(sys.modules.values()))
        self.holders = [
            (cls, name, original, wire)
            for owner, name, original, wire in self.methods
            for cls in {owner, *_CLASSES}  # its subclasses are walked on `apply`, which finds newer ones too
            if cls.__dict__.get(name) is original
        ]

    def apply(self) -> None:
        """Put the replacements where `locate` found them (and in modules loaded since), and run the gates."""
        bindings = list(self.bindings)
        new = len(sys.modules) - self.modules_seen
        if new > 0:  # loaded after the walk: the newest come last, so only they are read
            loaded = reversed(sys.modules.values())
            bindings += self._bindings_in([next(loaded) for _ in range(new)])
        for namespace, name, original, wire in bindings:
            if namespace.get(name) is original:
                namespace[name] = wire
        holders = list(self.holders)
        for owner, name, original, wire in self.methods:  # its subclasses, those made since the walk included
            holders += [(cls, name, original, wire) for cls in _subclasses(owner)]
        for cls, name, original, wire in holders:
            if cls.__dict__.get(name) is original:
                set_in_type(cls, name, wire)
        for operator, rule in self.operators.items():
            refuse_operator(operator, rule)
        for gate in self.gates:
            gate()

    def _bindings_in(self, modules: list[Any]) -> list[tuple[dict[str, Any], str, Any, Callable[..., Any]]]:
        by_name: dict[str, list[tuple[Any, Callable[..., Any]]]] = {}
        for original, name, wire in self.functions.values():
            by_name.setdefault(name, []).append((original, wire))
        found = []
        if by_name:
            for module in modules:
                try:
                    namespace = vars(module)
                except TypeError:
                    continue
                for name, pairs in by_name.items():
                    bound = namespace.get(name)
                    found += [(namespace, name, original, wire) for original, wire in pairs if bound is original]
        return found


_PLANS: dict[tuple[str, ...], _Plan] = {}
MAX_PLANS = 64  # lists of rules a zygote keeps planned (one per problem; a kept zygote outlives runs)


def prepare(rules: Iterable[str]) -> None:
    """Plan `rules` ahead in this process, so that processes forked from it install them cheaply.

    Called in the zygote for each sandbox before it forks: the first sandbox of a list of rules pays
    the walk here, once. A rule whose module is not loaded yet is left to the sandbox, since
    importing it here would load it into every sandbox forked after.
    """
    key = tuple(rules)
    if key not in _PLANS:
        plan = _plan(key, importing=False)
        if plan is not None:
            plan.locate()
            if len(_PLANS) >= MAX_PLANS:
                _PLANS.pop(next(iter(_PLANS)))  # the oldest: its problem's sandboxes walk again if it comes back
            _PLANS[key] = plan


def install(rules: Iterable[str]) -> list[str]:
    """Make every forbidden name in `rules` unusable; returns the rules that name nothing here."""
    key = tuple(rules)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _plan(key, importing=True)
        assert plan is not None  # importing, every rule resolves or is unknown
        plan.locate()
    plan.apply()
    return list(plan.unknown)


def _plan(rules: tuple[str, ...], *, importing: bool) -> _Plan | None:
    """What `rules` forbid, resolved to functions, methods, operators and gates; None when a rule
    needs a module imported and `importing` is false."""
    resolve = _resolve if importing else _resolve_loaded
    plan = _Plan()
    for rule in rules:
        target = resolve(rule)
        if target is _UNLOADED:
            return None
        if target is None:
            plan.unknown.append(rule)
            continue
        if isinstance(target, types.ModuleType):
            _plan_module(plan, rule, target)
        elif isinstance(target, type):
            for name in ("__init__", "forward"):
                plan.method(target, name, rule)
        elif callable(target):
            plan.function(target, rule)
            owner = resolve(rule.rsplit(".", 1)[0])
            if isinstance(owner, type):
                plan.method(owner, rule.rsplit(".", 1)[1], rule)
            operator = _operator_name(target)
            if operator is not None:
                plan.operators[operator] = rule
        for extra in MACHINERY.get(rule, ()):
            if callable(extra):
                plan.gates.append(extra)
                continue
            found = resolve(extra)
            if found is _UNLOADED:
                return None
            if isinstance(found, types.ModuleType):
                _plan_module(plan, rule, found)
            elif found is not None:
                plan.function(found, extra if extra.startswith(rule + ".") else f"{rule} ({extra})")
    return plan


_UNLOADED = object()


def _resolve_loaded(name: str) -> Any:
    """What `_resolve` gives for `name`, found without importing anything or running a module's
    `__getattr__`; `_UNLOADED` when that would take an import."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        obj: Any = sys.modules.get(".".join(parts[:cut]))
        if obj is None:
            continue
        for part in parts[cut:]:
            if isinstance(obj, types.ModuleType):
                namespace = vars(obj)
                if part not in namespace:
                    return _UNLOADED  # perhaps a submodule not imported yet, or a lazy attribute
                obj = namespace[part]
            else:
                obj = getattr(obj, part, None)
                if obj is None:
                    return None
        return obj
    return _UNLOADED


def _plan_module(plan: _Plan, rule: str, module: types.ModuleType) -> None:
    """A module's entry points: the public functions it defines or re-exports from its own package."""
    package = module.__name__
    for name, value in list(vars(module).items()):
        if name.startswith("_") or not (inspect.isfunction(value) or isinstance(value, types.BuiltinFunctionType)):
            continue
        home = getattr(value, "__module__", None) or ""
        if home == package or home.startswith(package + ".") or home == rule or home.startswith(rule + "."):
            plan.function(value, f"{rule}.{name}" if module.__name__ == rule else f"{module.__name__}.{name}")


def _subclasses(cls: type) -> list[type]:
    out: list[type] = []
    todo = [cls]
    while todo:
        subclasses: list[type] = type.__subclasses__(todo.pop())
        for sub in subclasses:
            if sub not in out:
                out.append(sub)
                todo.append(sub)
    return out


def _resolve(name: str) -> Any:
    """The object a dotted name stands for (importing its module if needed), or None."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        module = sys.modules.get(module_name)
        if module is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    module = importlib.import_module(module_name)
            except Exception:  # noqa: BLE001 - not a module: try a shorter prefix
                continue
        obj: Any = module
        for part in parts[cut:]:
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj
    return None


def set_in_type(cls: type, name: str, value: Any) -> None:
    """Set an attribute of a class, also of a C type that Python marks immutable.

    The attribute goes into the type's own dict (which a mappingproxy only hides), and the type's
    attribute cache is invalidated, as `setattr` would do.
    """
    if not cls.__flags__ & _IMMUTABLE_TYPE:
        setattr(cls, name, value)
        return
    [real] = [d for d in gc.get_referents(cls.__dict__) if isinstance(d, dict)]
    real[name] = value
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(cls))


# -- the differentiation machinery ------------------------------------------------------------------


def _operator_name(target: Any) -> str | None:
    """The aten operator a torch builtin dispatches to (`torch.conv2d` -> `conv2d`), if any."""
    if not isinstance(target, types.BuiltinFunctionType) or not (getattr(target, "__module__", "") or "").startswith(
        "torch"
    ):
        return None
    import torch

    name = getattr(target, "__name__", "")
    return name if name and torch._C._dispatch_has_kernel(f"aten::{name}") else None


def refuse_operator(name: str, rule: str) -> None:
    """Make the dispatcher refuse every overload of aten::`name`, whichever Python or C path calls it."""
    import torch

    wire = tripwire(rule)
    library = torch._C._dispatch_library("IMPL", "aten", "", "grader.sandbox.tripwires", 0)
    packet = getattr(torch.ops.aten, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "overriding a previously registered kernel": that is the point
        for overload in packet.overloads():
            qualified = name if overload == "default" else f"{name}.{overload}"
            for key in ("CompositeImplicitAutograd", "CompositeExplicitAutograd", "CPU"):
                if torch._C._dispatch_has_kernel_for_dispatch_key(f"aten::{qualified}", key):
                    library.impl(qualified, key, wire, False)  # type: ignore[call-arg]
    # The registrations last as long as `library`: keep it alive without any reference that Python
    # code could find and destroy (the handle is not tracked by the garbage collector).
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(library))


def _gate_engine() -> None:
    """The autograd engine's one entry, `run_backward`, on its C type (instances made later included)."""
    from torch.autograd.variable import Variable

    set_in_type(type(Variable._execution_engine), "run_backward", tripwire("torch.autograd (the backward engine)"))


def _hide_graph() -> None:
    """A tensor's recorded graph (`grad_fn`) reads as None: backward nodes cannot be called by hand."""
    import torch

    for name in ("grad_fn", "_grad_fn"):
        if name in torch._C.TensorBase.__dict__:
            set_in_type(torch._C.TensorBase, name, property(_no_graph))


def _no_graph(tensor: Any) -> None:
    return None


# What running a forbidden module means beyond its own public functions: the entry points that
# every use of it goes through (names of functions or modules, or gates to install).
MACHINERY: dict[str, tuple[str | Callable[[], None], ...]] = {
    "torch.autograd": (
        "torch.autograd.functional",
        # Making dual tensors, not reading them: printing a tensor calls unpack_dual.
        "torch.autograd.forward_ad.make_dual",
        "torch.autograd.forward_ad.enter_dual_level",
        "torch._C._enter_dual_level",
        "torch._C._functorch._grad_increment_nesting",
        "torch._C._functorch._jvp_increment_nesting",
        _gate_engine,
        _hide_graph,
    ),
    "torch.func": (
        "torch._C._functorch._grad_increment_nesting",
        "torch._C._functorch._jvp_increment_nesting",
    ),
}
