"""Build frozen dataclass trees from YAML mappings, with errors that name the file and key path.

Supported field types: str, int, float, bool, Literal[...], Optional[X], list[X], tuple[X, ...],
dict[str, X] and nested dataclasses. Unknown keys are rejected with the allowed ones listed.
After a dataclass is built, its ``validate()`` method (if any) runs; a ValueError raised there is
reported with the key path of that dataclass.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, Union

from dataplane.errors import ConfigError

_MISSING = dataclasses.MISSING


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of {_type_name(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _fail(where: str, path: str, message: str) -> ConfigError:
    location = f"{where}: " if where else ""
    return ConfigError(f"{location}{path or '<root>'}: {message}")


def build(tp: Any, value: Any, path: str = "", where: str = "") -> Any:
    """Convert a plain YAML value into ``tp``; raise ConfigError naming ``where`` and ``path``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, value, path, where)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return build(arg, value, path, where)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise _fail(where, path, f"expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise _fail(where, path, f"expected one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _fail(where, path, f"expected {_type_name(tp)}, got {value!r}")
        item_tp = typing.get_args(tp)[0]
        items = [build(item_tp, v, f"{path}[{i}]", where) for i, v in enumerate(value)]
        return tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(where, path, f"expected {_type_name(tp)}, got {value!r}")
        key_tp, val_tp = typing.get_args(tp)
        return {str(k): build(val_tp, v, f"{path}.{k}", where) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(where, path, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where, path, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(where, path, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(where, path, f"expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")


def _build_dataclass(cls: Any, value: Any, path: str, where: str) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _fail(where, path, f"expected a mapping, got {value!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in value if k not in fields]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(
            where,
            _join(path, str(unknown[0])),
            f"unknown key{hint}; allowed keys here: {', '.join(sorted(fields))}",
        )
    kwargs = {}
    for name, field in fields.items():
        sub = _join(path, name)
        if name in value:
            kwargs[name] = build(hints[name], value[name], sub, where)
        elif field.default is _MISSING and field.default_factory is _MISSING:
            raise _fail(where, sub, f"required key is missing (expected {_type_name(hints[name])})")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:
            raise _fail(where, path, str(exc)) from None
    return obj


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def to_plain(obj: Any) -> Any:
    """Turn a dataclass tree back into plain dicts/lists (for writing the resolved config)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj
