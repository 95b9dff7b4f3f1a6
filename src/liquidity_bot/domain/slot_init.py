"""A cheaper ``__init__`` for the frozen, slotted dataclasses that every quoting pass makes.

A frozen dataclass's own ``__init__`` sets each field with ``object.__setattr__(self, name,
value)`` (its ``__setattr__`` refuses): a look-up of the attribute by its name for every field
of every instance. In a slotted class each field is a slot descriptor, and calling its
``__set__`` does the same store without the look-up. ``slot_init`` gives the class such an
``__init__`` (same parameters, same defaults, same order); the instances are unchanged (equal,
hashable, frozen, ``dataclasses.replace``-able), only building them costs less. Desired quotes,
the planner's targets and live orders are made by the tens of thousands per simulated hour.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def slot_init(cls: type[T]) -> type[T]:
    """Replace ``cls.__init__`` (a frozen, slotted dataclass with plain fields: no
    ``__post_init__``, no default factory, no keyword-only or non-init field) by one that
    stores through the slot descriptors. Raises TypeError for any other class."""
    params = getattr(cls, "__dataclass_params__", None)
    if (params is None or not params.frozen or "__slots__" not in cls.__dict__
            or hasattr(cls, "__post_init__")):
        raise TypeError(f"slot_init: {cls.__name__} is not a frozen, slotted dataclass")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    namespace: dict[str, Any] = {}
    args = []
    body = []
    for f in fields:
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"slot_init: {cls.__name__}.{f.name} is not a plain field")
        if f.default is dataclasses.MISSING:
            args.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            args.append(f"{f.name}=_default_{f.name}")
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        body.append(f"    _set_{f.name}(self, {f.name})\n")
    lines = "".join(body) or "    pass\n"
    source = f"def __init__(self, {', '.join(args)}):\n{lines}"
    exec(source, namespace)  # noqa: S102 - made of the dataclass's own field names only
    init = namespace["__init__"]
    before = cls.__init__  # type: ignore[misc]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = before.__doc__
    init.__annotations__ = dict(getattr(before, "__annotations__", {}))
    cls.__init__ = init  # type: ignore[misc]
    return cls
