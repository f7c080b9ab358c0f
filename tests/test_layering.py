"""design.md §2: imports point down only. pki and domain are pure; services know nothing of HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "registry"
FORBIDDEN = {
    "pki": {
        "flask",
        "flask_login",
        "wtforms",
        "sqlalchemy",
        "alembic",
        "registry.db",
        "registry.services",
        "registry.web",
        "registry.domain",
    },
    "domain": {
        "flask",
        "flask_login",
        "wtforms",
        "sqlalchemy",
        "alembic",
        "registry.db",
        "registry.services",
        "registry.web",
    },
    "db": {"flask", "flask_login", "wtforms", "registry.services", "registry.web"},
    "services": {"flask", "flask_login", "wtforms", "registry.web"},
}


def _imports(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against registry.<package>
                base = ["registry", package][: max(0, 2 - node.level + 1)]
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
    return found


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_layer_imports_point_down_only(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imports(path, package):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                bad.append(f"{path.relative_to(ROOT.parent)} imports {name}")
    assert bad == []


def test_layering_check_would_catch_a_violation(tmp_path: Path) -> None:
    p = tmp_path / "x.py"
    p.write_text("from ..db.models import Seal\nimport flask\n")
    assert {"registry.db.models", "flask"} <= _imports(p, "pki")


def test_messages_module_is_the_bottom_layer() -> None:
    """registry/messages.py (bilingual coded messages) is imported by every layer and imports none."""
    path = ROOT / "messages.py"
    assert not {n for n in _imports(path, "") if n.startswith("registry")}
