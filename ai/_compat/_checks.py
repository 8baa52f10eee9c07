"""How the SDK guards (``openai``, ``anthropic``, ``genai``, ``httpx2`` beside this file) check
what they rely on, and say once when it is gone.

A check returns ``None`` when all is as expected, or one sentence naming what changed. Checks
read signatures, compiled code and source (:func:`class_source`, :func:`method_statements`);
they never call into the library.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Iterable

logger = logging.getLogger("ai.compat")


def _owner_name(owner: object) -> str:
    return getattr(owner, "__qualname__", None) or getattr(owner, "__name__", repr(owner))


def takes(owner: object, name: str, params: Iterable[str]) -> str | None:
    """``None`` if ``owner.<name>`` is a callable accepting each of ``params`` by name."""
    func = getattr(owner, name, None)
    if not callable(func):
        return f"{_owner_name(owner)}.{name} is gone"
    try:
        found = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return f"{_owner_name(owner)}.{name} has no readable signature"
    lacking = [p for p in params if p not in found]
    if lacking:
        return f"{_owner_name(owner)}.{name} no longer takes {', '.join(lacking)}"
    return None


def has(owner: object, *names: str) -> str | None:
    """``None`` if ``owner`` (a class, module or instance) has every attribute in ``names``."""
    lacking = [n for n in names if not hasattr(owner, n)]
    if lacking:
        return f"{_owner_name(owner)} has no {', '.join(lacking)}"
    return None


def assigned_in_init(cls: type, *names: str) -> str | None:
    """``None`` if ``cls.__init__`` (or an ``__init__`` up its MRO) names every attribute in
    ``names``: how to check an instance attribute without building an instance."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        code = getattr(klass.__dict__.get("__init__"), "__code__", None)
        if code is not None:
            seen.update(code.co_names)
    lacking = [n for n in names if n not in seen]
    if lacking:
        return f"{_owner_name(cls)}.__init__ no longer sets {', '.join(lacking)}"
    return None


def run(check: Callable[[], str | None]) -> str | None:
    """``check()``, where an exception is a problem too: a guard must never fail the import."""
    try:
        return check()
    except Exception as exc:
        return f"the check itself failed ({type(exc).__name__}: {exc})"


def first_problem(*problems: str | None) -> str | None:
    return next((p for p in problems if p), None)


def report(library: str, problem: str | None, fallback: str) -> bool:
    """Log ``problem`` once (at import) as a warning naming the public path taken instead;
    return whether the private path may be used."""
    if problem is None:
        return True
    logger.warning(
        "%s: %s; the gateway uses %s instead (correct, but slower). Pin the version in "
        "requirements.txt, or update ai/_compat/ for this release.",
        library,
        problem,
        fallback,
    )
    return False


def class_source(cls: type) -> str:
    """``cls``'s source: the lines of its module's file from ``class <name>`` to the next
    top-level statement. Not ``inspect.getsource`` (it maps every loaded module to its file
    on first use) nor an AST (parsing whole modules): either left ~2 MB in a worker."""
    path = inspect.getsourcefile(cls)  # the module's __file__, for a class
    if path is None:
        raise OSError(f"no source file for {cls.__qualname__}")
    with open(path, encoding="utf-8") as file:
        text = file.read()
    start = re.search(rf"^class {re.escape(cls.__name__)}\b", text, re.MULTILINE)
    if start is None:
        raise OSError(f"{cls.__qualname__} is not in {path}")
    end = re.compile(r"^[^\s#)]", re.MULTILINE).search(text, start.end())
    return text[start.start() : end.start() if end else len(text)]


def method_statements(cls: type, name: str) -> tuple[str, ...]:
    """The lines of ``cls``'s method ``name`` in its source, stripped, without comments and
    blank lines (empty when the class does not define it)."""
    lines = class_source(cls).splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.strip().startswith(f"def {name}(")), None
    )
    if start is None:
        return ()
    indent = len(lines[start]) - len(lines[start].lstrip())
    body = [lines[start].strip()]
    for line in lines[start + 1 :]:
        text = line.strip()
        if text and len(line) - len(line.lstrip()) <= indent:
            break
        if text and not text.startswith("#"):
            body.append(text)
    return tuple(body)
