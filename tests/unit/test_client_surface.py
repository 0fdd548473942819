"""The sync and the async client offer the same surface: same public names, and for each the
same signature and docstring once ``Async*`` names are mapped to their sync twins; async
methods are awaitable (or return an async iterator) where the sync ones are plain."""

from __future__ import annotations

import asyncio
import inspect
import re
from typing import Any

import pytest

from openhands_api import AsyncOpenHandsAPI, OpenHandsAPI, aio, client
from openhands_api.aio import AsyncV0Routes, AsyncV1Routes
from openhands_api.client import V0Routes, V1Routes

PAIRS: list[tuple[type, type]] = [
    (OpenHandsAPI, AsyncOpenHandsAPI),
    (V0Routes, AsyncV0Routes),
    (V1Routes, AsyncV1Routes),
]
# Not public by name, but part of the surface all the same: (sync name, async name).
DUNDERS = {
    OpenHandsAPI: [("__init__", "__init__"), ("__enter__", "__aenter__"), ("__exit__", "__aexit__")],
    V0Routes: [("__init__", "__init__")],
    V1Routes: [("__init__", "__init__")],
}


def to_sync(text: str) -> str:
    """An async annotation or docstring as the sync client spells it."""
    text = re.sub(r"\bAsync(?=[A-Z])", "", text)  # AsyncOpenHandsAPI, AsyncIterator, httpx.AsyncClient …
    awaited = re.fullmatch(r"(?:Coroutine\[Any, Any, |Awaitable\[)(.*)\]", text)
    return awaited.group(1) if awaited else text


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def members() -> list[Any]:
    out = []
    for sync_cls, async_cls in PAIRS:
        names = [(name, name) for name in sorted(public(sync_cls) & public(async_cls))]
        for sync_name, async_name in names + DUNDERS[sync_cls]:
            ident = f"{sync_cls.__name__}.{sync_name}"
            out.append(pytest.param(sync_cls, async_cls, sync_name, async_name, id=ident))
    return out


def described(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "-"
    return to_sync(annotation if isinstance(annotation, str) else inspect.formatannotation(annotation))


def shape(function: Any) -> list[tuple[str, str, str, str]]:
    """Each parameter's name, kind, default and (sync-spelled) annotation, then the return's."""
    signature = inspect.signature(function)
    params = [
        (p.name, p.kind.name, repr(p.default), described(p.annotation)) for p in signature.parameters.values()
    ]
    return [*params, ("return", "", "", described(signature.return_annotation))]


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=lambda cls: cls.__name__)
def test_the_same_public_names(sync_cls: type, async_cls: type) -> None:
    assert public(sync_cls) == public(async_cls)


@pytest.mark.parametrize(("sync_cls", "async_cls", "sync_name", "async_name"), members())
def test_the_same_signature_docstring_and_colour(
    sync_cls: type, async_cls: type, sync_name: str, async_name: str
) -> None:
    sync_attr = inspect.getattr_static(sync_cls, sync_name)
    async_attr = inspect.getattr_static(async_cls, async_name)
    assert type(sync_attr) is type(async_attr)
    if isinstance(sync_attr, property):
        sync_attr, async_attr = sync_attr.fget, async_attr.fget
    elif isinstance(sync_attr, (staticmethod, classmethod)):
        sync_attr, async_attr = sync_attr.__func__, async_attr.__func__

    assert shape(sync_attr) == [tuple(map(to_sync, row)) for row in shape(async_attr)]
    assert sync_attr.__doc__ == (None if async_attr.__doc__ is None else to_sync(async_attr.__doc__))

    assert not inspect.iscoroutinefunction(sync_attr)
    assert not inspect.isasyncgenfunction(sync_attr)
    if sync_attr is async_attr or sync_name == "__init__":
        return  # shared (inherited from BaseClient) or a constructor: plain on both sides
    returns = inspect.signature(async_attr).return_annotation
    if inspect.iscoroutinefunction(async_attr):
        assert not str(returns).startswith("AsyncIterator[")
    else:
        assert iterates(str(returns), aio, "AsyncIterator[", "__anext__"), (
            f"{async_name} is neither awaitable nor an async iterator"
        )
        assert iterates(str(inspect.signature(sync_attr).return_annotation), client, "Iterator[", "__next__")


def iterates(annotation: str, module: Any, generic: str, step: str) -> bool:
    """Whether ``annotation`` names an iterator: ``generic[…]``, or a class of the client's
    module whose instances step with ``step`` (the stream of ``stream_events``)."""
    named = getattr(module, annotation, None)
    return annotation.startswith(generic) or (isinstance(named, type) and hasattr(named, step))


def test_the_clients_class_docstrings_differ_only_as_paired_in_pairs_module() -> None:
    from openhands_api._pairs import ASYNC_CLIENT_DOC, CLIENT_DOC

    assert OpenHandsAPI.__doc__ == CLIENT_DOC
    assert AsyncOpenHandsAPI.__doc__ == ASYNC_CLIENT_DOC
    for sync_cls, async_cls in PAIRS[1:]:
        assert sync_cls.__doc__ == to_sync(async_cls.__doc__ or "")


def test_the_same_attributes_on_an_instance() -> None:
    with OpenHandsAPI(api_key="k", base_url="http://127.0.0.1:9") as sync_api:
        sync_vars = {name: type(value).__name__ for name, value in vars(sync_api).items()}
    async_api = AsyncOpenHandsAPI(api_key="k", base_url="http://127.0.0.1:9")
    async_vars = {name: to_sync(type(value).__name__) for name, value in vars(async_api).items()}
    asyncio.run(async_api.close())
    assert sync_vars == async_vars
    assert {"v0", "v1"} <= sync_vars.keys()
