"""Saving river models without pickle: a JSON tree of their attributes, river classes only.

The loader imports nothing outside the ``river`` package, so a state file can be read without
trusting it (unlike ``pickle``). Used by :class:`regretlab.learners.RiverRegressor`.
"""

from __future__ import annotations

import base64
import collections
import functools
import importlib
import inspect
import random
import types
from typing import Any

import numpy as np

FORMAT = 1


def river_version() -> str:
    return importlib.import_module("river").__version__


# -- state without pickle ---------------------------------------------------------------------
_BUILTINS: dict[str, Any] = {
    f"{c.__module__}:{c.__qualname__}": c
    for c in [
        *(float, int, bool, str, complex, list, tuple, dict, set, frozenset),
        *(collections.Counter, collections.OrderedDict, collections.defaultdict, collections.deque),
    ]
}
_DICTS = {
    c.__name__: c
    for c in (dict, collections.OrderedDict, collections.Counter, collections.defaultdict)
}
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _is_river(module: Any) -> bool:
    return isinstance(module, str) and (module == "river" or module.startswith("river."))


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', None)}:{getattr(obj, '__qualname__', None)}"


def _resolve(name: Any) -> Any:
    """The river class or function (or whitelisted builtin) called ``name``; never imports
    anything outside ``river``."""
    if name in _BUILTINS:
        return _BUILTINS[name]
    module, _, qualname = str(name).partition(":")
    if not _is_river(module):
        raise ValueError(f"refusing to load {name!r}: only classes and functions from river")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if obj is None or _qualified(obj) != name:
        raise ValueError(f"cannot find {name!r} in river")
    return obj


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _numeric_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind not in "biufc":
        raise ValueError(f"only numeric numpy arrays are stored, got dtype {dtype}")
    return dtype


class Encoder:
    """Python objects -> JSON-ready trees; every mutable object gets an id for shared refs."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}
        self._alive: list[Any] = []  # keeps encoded objects alive so their ids stay unique

    def _register(self, value: Any) -> dict[str, Any] | int:
        if id(value) in self._ids:
            return {"t": "ref", "id": self._ids[id(value)]}
        self._ids[id(value)] = n = len(self._ids)
        self._alive.append(value)
        return n

    def encode(self, value: Any, path: str) -> Any:
        kind = type(value)
        if value is None or kind in (bool, int, float, str):
            return value
        if kind is tuple or kind is frozenset:
            return {"t": kind.__name__, "items": self._items(value, path)}
        if isinstance(value, np.generic):
            dtype = _numeric_dtype(value.dtype)
            return {"t": "scalar", "dtype": dtype.str, "b64": _b64(value.tobytes())}
        if inspect.isclass(value) or isinstance(
            value, types.FunctionType | types.BuiltinFunctionType
        ):
            return {"t": "global", "name": self._global(value, path)}
        if isinstance(value, types.MethodType):
            if getattr(value.__self__, value.__name__, None) != value:
                raise TypeError(f"cannot save {path}: method {value!r} is not found by its name")
            owner = self.encode(value.__self__, f"{path}.__self__")
            return {"t": "method", "self": owner, "name": value.__name__}
        if kind is functools.partial:
            return {
                "t": "partial",
                "func": self.encode(value.func, f"{path}.func"),
                "args": self._items(value.args, path),
                "keywords": self.encode(value.keywords, f"{path}.keywords"),
            }
        ident = self._register(value)
        if isinstance(ident, dict):
            return ident
        node = self._mutable(value, path)
        node["id"] = ident
        return node

    def _items(self, values: Any, path: str) -> list[Any]:
        return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(values)]

    def _global(self, value: Any, path: str) -> str:
        name = _qualified(value)
        try:
            ok = _resolve(name) is value
        except (ValueError, ImportError):
            ok = False
        if not ok:
            raise TypeError(
                f"cannot save {path}: {value!r} is not a class or function of the river package "
                f"that can be found by name (lambdas and local functions cannot be stored)"
            )
        return name

    def _mutable(self, value: Any, path: str) -> dict[str, Any]:
        kind = type(value)
        if kind in (list, set):
            return {"t": kind.__name__, "items": self._items(value, path)}
        if kind.__name__ in _DICTS and _DICTS[kind.__name__] is kind:
            node: dict[str, Any] = {"t": "dict", "cls": kind.__name__}
            if kind is collections.defaultdict:
                node["factory"] = self.encode(value.default_factory, f"{path}.default_factory")
            node["items"] = [
                [self.encode(k, f"{path} key"), self.encode(v, f"{path}[{k!r}]")]
                for k, v in value.items()
            ]
            return node
        if kind is collections.deque:
            return {"t": "deque", "maxlen": value.maxlen, "items": self._items(value, path)}
        if kind is np.ndarray:
            dtype = _numeric_dtype(value.dtype)
            # Memory order is kept: river's BayesianLinearRegression updates a Fortran-ordered
            # covariance in place with BLAS, and the order changes which kernel runs.
            order = "F" if value.flags.f_contiguous and not value.flags.c_contiguous else "C"
            return {
                "t": "ndarray",
                "dtype": dtype.str,
                "shape": list(value.shape),
                "order": order,
                "b64": _b64(value.tobytes(order=order)),
            }
        if kind is random.Random:
            return {"t": "random", "state": self.encode(value.getstate(), f"{path}.state")}
        if kind is np.random.RandomState:
            state = value.get_state(legacy=False)
            return {"t": "RandomState", "state": self.encode(state, f"{path}.state")}
        if kind is np.random.Generator:
            bits = value.bit_generator
            return {
                "t": "Generator",
                "bits": type(bits).__name__,
                "state": self.encode(bits.state, f"{path}.state"),
            }
        if _qualified(kind) == "river._river_rust.vectordict:VectorDict":
            # A Rust object without __dict__; its pickle recipe names the parts to rebuild it.
            _, (data, factory, mask, _copy) = value.__reduce__()
            return {
                "t": "VectorDict",
                "data": self.encode(data, f"{path}.data"),
                "factory": self.encode(factory, f"{path}.default_factory"),
                "mask": self.encode(mask, f"{path}.mask"),
            }
        builtin_base = isinstance(value, dict | list | set | tuple | collections.deque)
        if _is_river(kind.__module__) and hasattr(value, "__dict__") and not builtin_base:
            # object.__getstate__ gives None for an empty __dict__ (stateless losses).
            state = value.__getstate__() or {}
            if not isinstance(state, dict):
                raise TypeError(f"cannot save {path}: {_qualified(kind)} keeps non-dict state")
            return {
                "t": "obj",
                "cls": self._global(kind, path),
                "attrs": {k: self.encode(v, f"{path}.{k}") for k, v in state.items()},
            }
        raise TypeError(
            f"cannot save {path}: objects of type {_qualified(kind)} are not supported "
            f"(only river objects, numbers, strings, containers and numeric numpy arrays)"
        )


class Decoder:
    """JSON trees -> Python objects; the inverse of :class:`Encoder`."""

    def __init__(self) -> None:
        self._objects: dict[int, Any] = {}

    def decode_into(self, node: Any, target: Any) -> Any:
        """Set the saved attributes of a top-level river object on ``target``."""
        if not isinstance(node, dict) or node.get("t") != "obj":
            raise ValueError("a saved river model must be an object node")
        if node["cls"] != _qualified(type(target)):
            raise ValueError(
                f"state was saved from {node['cls']}, but factory() builds "
                f"{_qualified(type(target))}"
            )
        self._objects[node["id"]] = target
        self._fill(target, node)
        return target

    def _fill(self, obj: Any, node: dict[str, Any]) -> None:
        attrs = {k: self.decode(v) for k, v in node["attrs"].items()}
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(attrs)
        else:
            obj.__dict__.update(attrs)

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if not isinstance(node, dict):
            raise ValueError(f"malformed state node {node!r}")
        tag = node.get("t")
        if tag == "ref":
            return self._objects[node["id"]]
        if tag in ("tuple", "frozenset"):
            items = [self.decode(v) for v in node["items"]]
            return tuple(items) if tag == "tuple" else frozenset(items)
        if tag == "scalar":
            return np.frombuffer(base64.b64decode(node["b64"]), _numeric_dtype(node["dtype"]))[0]
        if tag == "global":
            return _resolve(node["name"])
        if tag == "method":
            return getattr(self.decode(node["self"]), node["name"])
        if tag == "partial":
            return functools.partial(
                self.decode(node["func"]),
                *[self.decode(v) for v in node["args"]],
                **self.decode(node["keywords"]),
            )
        return self._mutable(tag, node)

    def _keep(self, node: dict[str, Any], obj: Any) -> Any:
        self._objects[node["id"]] = obj
        return obj

    def _mutable(self, tag: Any, node: dict[str, Any]) -> Any:
        if tag in ("list", "set"):
            out = self._keep(node, [] if tag == "list" else set())
            items = [self.decode(v) for v in node["items"]]
            out.extend(items) if tag == "list" else out.update(items)
            return out
        if tag == "dict":
            kind = _DICTS.get(node["cls"])
            if kind is None:
                raise ValueError(f"unknown dict type {node['cls']!r}")
            if kind is collections.defaultdict:
                factory = self.decode(node["factory"])
                if factory is not None and not callable(factory):
                    raise ValueError(f"defaultdict factory {factory!r} is not callable")
                out = self._keep(node, collections.defaultdict(factory))
            else:
                out = self._keep(node, kind())
            for key, value in node["items"]:
                out[self.decode(key)] = self.decode(value)
            return out
        if tag == "deque":
            out = self._keep(node, collections.deque(maxlen=node["maxlen"]))
            out.extend(self.decode(v) for v in node["items"])
            return out
        if tag == "ndarray":
            dtype = _numeric_dtype(node["dtype"])
            flat = np.frombuffer(base64.b64decode(node["b64"]), dtype=dtype)
            shape = tuple(int(n) for n in node["shape"])
            if node["order"] == "F":
                return self._keep(node, flat.reshape(shape, order="F").copy(order="F"))
            return self._keep(node, flat.reshape(shape).copy())
        if tag == "random":
            out = self._keep(node, random.Random())
            out.setstate(self.decode(node["state"]))
            return out
        if tag == "RandomState":
            out = self._keep(node, np.random.RandomState())
            out.set_state(self.decode(node["state"]))
            return out
        if tag == "Generator":
            if node["bits"] not in _BIT_GENERATORS:
                raise ValueError(f"unknown numpy bit generator {node['bits']!r}")
            bits = getattr(np.random, node["bits"])()
            bits.state = self.decode(node["state"])
            return self._keep(node, np.random.Generator(bits))
        if tag == "VectorDict":
            from river.utils import VectorDict

            data, factory, mask = (self.decode(node[k]) for k in ("data", "factory", "mask"))
            return self._keep(node, VectorDict(data, factory, mask, copy=False))
        if tag == "obj":
            cls = _resolve(node["cls"])
            if not inspect.isclass(cls):
                raise ValueError(f"{node['cls']!r} is not a class")
            obj = self._keep(node, cls.__new__(cls))
            self._fill(obj, node)
            return obj
        raise ValueError(f"unknown state node type {tag!r}")
