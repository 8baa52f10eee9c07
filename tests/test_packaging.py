"""The `test` extra installs what the suite imports, and requirements-dev.txt pins it (issue 13:
the tests needed django-environ, which only the `server` extra installed)."""

from __future__ import annotations

import ast
import contextlib
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = {"ai", "tests", "bench", "gateway_project"}
#: Plugins the pytest configuration in pyproject.toml relies on without importing them.
PLUGINS = {"pytest-django", "pytest-asyncio", "pytest-timeout"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    return modules - LOCAL - set(sys.stdlib_module_names) - {"__future__"}


def _with_dependencies(names: set[str]) -> set[str]:
    """``names`` and everything they install (any extra's requirements counted too)."""
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        with contextlib.suppress(PackageNotFoundError):  # not installed here: nothing to add
            todo.extend(_name(r) for r in requires(name) or ())
    return found


def test_the_test_extra_installs_what_the_suite_imports():
    project = _project()
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {_name(r) for r in project["optional-dependencies"]["test"]}
    installed = _with_dependencies(declared)
    distributions = packages_distributions()
    missing = []
    for module in sorted(_imported_top_level_modules()):
        candidates = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not candidates & installed:
            missing.append(f"{module} ({', '.join(sorted(candidates))})")
    assert not missing, f"imported by tests but not in dependencies or the test extra: {missing}"
    assert "django-environ" in declared  # tests/settings.py
    assert declared >= PLUGINS


def test_requirements_dev_pins_the_test_extra():
    pinned = set()
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                assert "==" in line, f"{name}: {line} is not pinned"
                pinned.add(_name(line))
    assert {_name(r) for r in _project()["optional-dependencies"]["test"]} <= pinned
