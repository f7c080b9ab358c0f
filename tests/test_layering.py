"""docs/architecture.md, "What may import what": imports point down only, no circles inside a layer.

The checker is ``tests/layering_rules.py``. The first half runs it on the real tree, minus the explicit
``KNOWN_*`` allowances below (each must still occur: a stale entry fails, so the lists only shrink).
The second half is the test of the test: violations planted in a small package tree under ``tmp_path``
(a skeleton with the same layers, never the real tree), one per import form and rule, each of which
the checker must report with the file, the line and the import as written.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import layering_rules as rules
from tests.layering_rules import Tree

ROOT = Path(__file__).resolve().parents[1]

# --- allowances on today's tree: (importing module, imported module). Each must still occur.

# services importing a package of the web/CLI framework family (rule services-no-web-frameworks).
KNOWN_SERVICES_FRAMEWORK_VIOLATIONS = {
    # A stated exception, not a debt: the notification e-mails are rendered from Jinja2 templates
    # (services/notify/compose.py, `import jinja2`: an environment of its own, strict and autoescaping
    # for HTML, not Flask's).
    # Jinja2 is a template engine, not HTTP; the e-mail job runs without a web app (registry notify).
    ("registry.services.notify.compose", "jinja2"),
}

KNOWN_VIOLATIONS: dict[str, set[tuple[str, str]]] = {
    "services-no-web-frameworks": KNOWN_SERVICES_FRAMEWORK_VIOLATIONS,
}


@pytest.fixture(scope="module")
def tree() -> Tree:
    return Tree.read(ROOT)


def _key(v: rules.Violation) -> tuple[str, str]:
    return (v.imp.importer, v.imp.module)


def test_every_import_of_the_tree_resolves(tree: Tree) -> None:
    assert tree.errors == []
    assert "registry.services.core.tx" in tree.modules and len(tree.imports) > 1000


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: r.name)
def test_layer_rule_holds(tree: Tree, rule: rules.Rule) -> None:
    known = KNOWN_VIOLATIONS.get(rule.name, set())
    found = [str(v) for v in rules.violations(tree, [rule]) if _key(v) not in known]
    assert found == []


@pytest.mark.parametrize("rule_name", sorted(KNOWN_VIOLATIONS))
def test_known_violations_still_occur(tree: Tree, rule_name: str) -> None:
    """A fixed violation must leave its KNOWN_ list: the allowances only shrink."""
    (rule,) = [r for r in rules.RULES if r.name == rule_name]
    occurring = {_key(v) for v in rules.violations(tree, [rule])}
    assert KNOWN_VIOLATIONS[rule_name] - occurring == set(), "stale entries: remove them"


def test_no_import_circles_inside_a_layer(tree: Tree) -> None:
    """No exceptions any more: the web, audit and seals/revocation circles were broken (issue 12)."""
    assert [str(c) for c in rules.cycles(tree, set())] == []


def test_messages_module_is_the_bottom_layer(tree: Tree) -> None:
    """registry/messages.py (bilingual coded messages) is imported by every layer and imports none."""
    assert not [i for i in tree.imports if i.importer == "registry.messages" and rules.under(i.module, "registry")]


def test_the_families_count_by_top_level_package() -> None:
    for name in ("flask_babel", "flask_wtf.csrf", "werkzeug.exceptions", "jinja2", "click", "gunicorn.app"):
        assert rules.family_of(name) == "web/CLI framework", name
    for name in ("sqlalchemy.orm", "alembic.command"):
        assert rules.family_of(name) == "storage", name
    for name in ("flaskish", "clickhouse", "sqlalchemy_utils", "registry.web", "cryptography"):
        assert rules.family_of(name) is None, name


# --- the test of the test: a skeleton tree with the real layers, and violations planted in it

SKELETON = {
    "registry/__init__.py": '"""The package."""\n',
    "registry/messages.py": "import string\nfrom dataclasses import dataclass\n",
    "registry/config.py": "import os\nfrom .messages import M\n",
    "registry/wsgi.py": "from .web import create_app\n",
    "registry/pki/__init__.py": "",
    "registry/pki/der.py": "import hashlib\nfrom ..messages import M\nfrom cryptography import x509\n",
    "registry/pki/ses/__init__.py": "from .model import Seal\n",
    "registry/pki/ses/model.py": "from ...messages import Localized\nfrom .. import der\nfrom ..der import encode\n",
    "registry/domain/__init__.py": "",
    "registry/domain/roles.py": "from ..pki import der\nfrom registry.messages import M\nimport registry.pki.ses.model\n",
    "registry/domain/states.py": "from .roles import Role\n",
    "registry/db/__init__.py": '"""Models."""\n',
    "registry/db/models.py": "from sqlalchemy import select\nfrom ..domain import roles\nfrom ..config import Settings\n",
    "registry/db/migrate.py": "import alembic.command\nfrom registry import config\n",
    "registry/services/__init__.py": "",
    "registry/services/context.py": "from ..config import Settings\nfrom ..db import models\n",
    "registry/services/audit.py": "import clickhouse_driver  # not click\nfrom .core.tx import Tx\nfrom .context import Actor\n",
    "registry/services/seals.py": "from sqlalchemy import select\nfrom ..db.models import Seal\nfrom . import audit\n",
    "registry/services/core/__init__.py": "",
    "registry/services/core/tx.py": "from ..context import Actor\nfrom ...db.models import AuditEvent\n",
    "registry/services/core/leases.py": "from .tx import Tx\nfrom registry.services.context import ServiceContext\n",
    "registry/web/__init__.py": (
        "from flask import Flask\nfrom flask_wtf import CSRFProtect\n\n\ndef create_app():\n    from . import public\n"
    ),
    "registry/web/public.py": "from flask import Blueprint\nfrom ..services import seals\nfrom ..domain import roles\n",
    "registry/web/admin/__init__.py": "from flask import Blueprint\nfrom ...services.seals import issue\n",
    "registry/web/admin/seal_views.py": "from ...pki import der\nfrom werkzeug.exceptions import NotFound\n",
    "registry/cli.py": (
        "import click\nfrom .db.migrate import upgrade\nfrom sqlalchemy.exc import SQLAlchemyError\n"
        "from sqlalchemy.engine import make_url\nfrom .services import seals\nfrom .web import create_app\n"
    ),
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def skeleton(tmp_path: Path) -> Path:
    _write(tmp_path, SKELETON)
    return tmp_path


def test_the_skeleton_is_clean(skeleton: Path) -> None:
    """Every import the skeleton holds is allowed: the checker does not refuse too much."""
    tree = Tree.read(skeleton)
    assert tree.errors == []
    assert [str(v) for v in rules.violations(tree)] == []
    assert rules.cycles(tree) == []
    assert len(tree.modules) == len(SKELETON)


# A form spells an import of `module` (taking `name` from it when given) from the file whose package
# is `package`: the lines to append, and the index of the line that holds the import.
Form = Callable[[str, str, "str | None"], "tuple[list[str], int] | None"]


def _relative(package: str, module: str) -> tuple[str, list[str]] | None:
    """The dots and the rest of `module` as a relative import from `package`."""
    p, m = package.split("."), module.split(".")
    if m[0] != p[0]:
        return None
    common = 0
    while common < min(len(p), len(m)) and p[common] == m[common]:
        common += 1
    return "." * (len(p) - common + 1), m[common:]


def _f_import(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    return None if name else ([f"import {module}"], 0)


def _f_import_as(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    return None if name else ([f"import {module} as planted"], 0)


def _f_from_package(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    parent, _, last = module.rpartition(".")
    if name:
        return [f"from {module} import {name}"], 0
    return ([f"from {parent} import {last}"], 0) if parent else None


def _f_from_name(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    return [f"from {module} import {name or 'Thing'} as planted"], 0


def _f_relative_bare(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    rel = _relative(package, module)
    if rel is None or name or not rel[1]:
        return None
    dots, rest = rel
    return [f"from {dots}{'.'.join(rest[:-1])} import {rest[-1]}"], 0


def _f_relative_module(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    rel = _relative(package, module)
    if rel is None:
        return None
    dots, rest = rel
    return [f"from {dots}{'.'.join(rest)} import {name or 'Thing'}"], 0


def _f_function_local(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    inner = f"from {module} import {name}" if name else f"import {module}"
    return ["", "", "def planted():", "    if True:", f"        {inner}", "    return None"], 4


def _f_method_local(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    rel = _relative(package, module)
    if rel is None:
        inner = f"from {module} import {name}" if name else f"import {module}"
    else:
        inner = f"from {rel[0]}{'.'.join(rel[1])} import {name or 'Thing'}"
    return ["", "", "class Planted:", "    def method(self):", f"        {inner}"], 4


def _f_type_checking(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    return ["from typing import TYPE_CHECKING", "if TYPE_CHECKING:", f"    from {module} import {name or 'T'}"], 2


def _f_import_module(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    return None if name else (["import importlib", f'planted = importlib.import_module("{module}")'], 1)


def _f_import_module_bare(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    return None if name else (["from importlib import import_module", f'import_module("{module}")'], 1)


def _f_import_module_relative(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    rel = _relative(package, module)
    if rel is None or name or not rel[1]:
        return None
    return ["import importlib", f'importlib.import_module("{rel[0]}{".".join(rel[1])}", __package__)'], 1


def _f_dunder_import(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    return None if name else ([f'planted = __import__("{module}")'], 0)


def _f_dunder_import_fromlist(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    if name:
        return [f'__import__("{module}", fromlist=["{name}"])'], 0
    parent, _, last = module.rpartition(".")
    return ([f'__import__("{parent}", globals(), None, ["{last}"])'], 0) if parent else None


def _f_dunder_import_level(package: str, module: str, name: str | None) -> tuple[list[str], int] | None:
    rel = _relative(package, module)
    if rel is None or name or not rel[1]:
        return None
    return [f'__import__("{".".join(rel[1])}", globals(), None, [], {len(rel[0])})'], 0


FORMS: dict[str, Form] = {
    "import a.b": _f_import,
    "import a.b as c": _f_import_as,
    "from a import b": _f_from_package,
    "from a.b import name": _f_from_name,
    "from .. import b": _f_relative_bare,
    "from ..a.b import name": _f_relative_module,
    "function-local": _f_function_local,
    "method-local": _f_method_local,
    "if TYPE_CHECKING": _f_type_checking,
    "importlib.import_module": _f_import_module,
    "import_module": _f_import_module_bare,
    "import_module relative": _f_import_module_relative,
    "__import__": _f_dunder_import,
    "__import__ fromlist": _f_dunder_import_fromlist,
    "__import__ level": _f_dunder_import_level,
}

# rule → (file to plant in, module it may not import, name taken from it or None)
PLANTS: dict[str, list[tuple[str, str, str | None]]] = {
    "messages-bottom": [("registry/messages.py", "registry.pki.der", None)],
    "config-beside": [("registry/config.py", "registry.db.models", None)],
    "pki-pure": [
        ("registry/pki/ses/model.py", "registry.db.models", None),
        ("registry/pki/der.py", "registry.config", None),
        ("registry/pki/__init__.py", "registry.domain.roles", None),
    ],
    "pki-no-frameworks": [
        ("registry/pki/der.py", "flask", None),
        ("registry/pki/ses/model.py", "sqlalchemy.orm", None),
    ],
    "domain-pure": [
        ("registry/domain/roles.py", "registry.services.seals", None),
        ("registry/domain/__init__.py", "registry.config", None),
    ],
    "domain-no-frameworks": [
        ("registry/domain/states.py", "alembic", None),
        ("registry/domain/roles.py", "werkzeug.security", None),
    ],
    "db-below-services": [
        ("registry/db/models.py", "registry.services.audit", None),
        ("registry/db/__init__.py", "registry.web", None),
    ],
    "db-no-web-frameworks": [
        ("registry/db/models.py", "flask_wtf", None),
        ("registry/db/migrate.py", "click", None),
    ],
    "services-below-web": [
        ("registry/services/seals.py", "registry.web.public", None),
        ("registry/services/core/tx.py", "registry.cli", None),
        ("registry/services/audit.py", "registry.web", None),
    ],
    "services-no-web-frameworks": [
        ("registry/services/audit.py", "flask_babel", None),
        ("registry/services/core/tx.py", "werkzeug.exceptions", None),
        ("registry/services/seals.py", "jinja2", None),
        ("registry/services/context.py", "gunicorn.app.base", None),
        ("registry/services/seals.py", "wtforms.validators", None),
        ("registry/services/__init__.py", "flask_login", None),
    ],
    "core-below-use-cases": [
        ("registry/services/core/tx.py", "registry.services.audit", None),
        ("registry/services/core/__init__.py", "registry.services.seals", None),
        ("registry/services/core/leases.py", "registry.services", None),
    ],
    "top-no-models-no-sql": [
        ("registry/web/public.py", "registry.db.models", None),
        ("registry/web/admin/seal_views.py", "registry.db.models", None),
        ("registry/cli.py", "registry.db.models", None),
        ("registry/web/admin/__init__.py", "sqlalchemy", "select"),
        ("registry/cli.py", "sqlalchemy.sql", "text"),
        ("registry/web/public.py", "sqlalchemy.orm", "Session"),
    ],
}


Made = tuple[list[str], int]


def _cases() -> list[tuple[str, tuple[str, str, str, str | None, Made]]]:
    """(id, (rule, file, module, name, (lines, index))) for every plant and every form that spells it."""
    cases = []
    for rule_name, plants in PLANTS.items():
        for file, module, name in plants:
            package = rules.module_name(Path("."), Path(file))
            if not file.endswith("__init__.py"):
                package = package.rpartition(".")[0]
            for form_name, form in FORMS.items():
                made = form(package, module, name)
                if made is not None:
                    label = f"{rule_name}:{file}:{module}{'.' + name if name else ''}:{form_name}"
                    cases.append((label, (rule_name, file, module, name, made)))
    return cases


def _plant(root: Path, file: str, lines: list[str]) -> int:
    """Append `lines` to the skeleton's `file`; the number of the first appended line."""
    path = root / file
    before = path.read_text()
    path.write_text(before + "\n".join(lines) + "\n")
    return len(before.splitlines()) + 1


CASES = _cases()


@pytest.mark.parametrize(
    ("rule_name", "file", "module", "name", "made"), [c for _, c in CASES], ids=[i for i, _ in CASES]
)
def test_a_planted_violation_is_reported(
    skeleton: Path, rule_name: str, file: str, module: str, name: str | None, made: tuple[list[str], int]
) -> None:
    lines, at = made
    line = _plant(skeleton, file, lines) + at
    text = lines[at].strip().removeprefix("planted = ")
    tree = Tree.read(skeleton)
    assert tree.errors == []
    found = list(rules.violations(tree))
    assert [v.rule for v in found] == [rule_name], [str(v) for v in found]
    (v,) = found
    assert rules.under(v.imp.target, f"{module}.{name}" if name else module)
    message = str(v)
    assert message.startswith(f"{file}:{line}: `{text}`"), message
    assert rule_name in message


def test_every_rule_has_plants_and_every_form_is_used() -> None:
    assert set(PLANTS) == {r.name for r in rules.RULES}
    used = {label.rsplit(":", 1)[1] for label, _ in CASES}
    assert used == set(FORMS)


@pytest.mark.parametrize(
    ("file", "lines", "at", "what"),
    [
        ("registry/web/public.py", ["import sqlalchemy as sa", "q = sa.select(1)"], 1, "sa.select"),
        ("registry/web/public.py", ["import sqlalchemy", "q = sqlalchemy.delete(t)"], 1, "sqlalchemy.delete"),
        ("registry/cli.py", ["import sqlalchemy.orm", "s = sqlalchemy.orm.Session(e)"], 1, "sqlalchemy.orm.Session"),
        ("registry/cli.py", ["from sqlalchemy import sql", "def f():", '    return sql.text("x")'], 2, "sql.text"),
        ("registry/web/admin/seal_views.py", ["def f(session):", "    return session.query(X)"], 1, "session.query"),
        ("registry/web/admin/__init__.py", ["rows = g.db_session.query(X).all()"], 0, "g.db_session.query"),
        ("registry/cli.py", ["n = get_session().query(X).count()"], 0, "get_session().query"),
    ],
)
def test_query_building_in_web_and_cli_is_reported(
    skeleton: Path, file: str, lines: list[str], at: int, what: str
) -> None:
    line = _plant(skeleton, file, lines) + at
    found = [str(v) for v in rules.violations(Tree.read(skeleton))]
    assert len(found) == 1 and found[0].startswith(f"{file}:{line}: `{what}`"), found
    assert "top-no-models-no-sql" in found[0]


def test_what_is_not_query_building(skeleton: Path) -> None:
    """Below the top SQL is the point; at the top a service's function named like a query is fine."""
    _plant(skeleton, "registry/services/seals.py", ["import sqlalchemy as sa", "def f(session):", "    sa.select(1)"])
    _plant(skeleton, "registry/services/audit.py", ["def g(session):", "    return session.query(X)"])
    _plant(skeleton, "registry/web/public.py", ["rows = seals.query(q)", "args = request.args", "s = select(x)"])
    _plant(skeleton, "registry/cli.py", ["url = make_url(u).select", "e = SQLAlchemyError.text"])
    assert list(rules.violations(Tree.read(skeleton))) == []


def test_an_import_above_the_top_package_is_reported(skeleton: Path) -> None:
    _plant(skeleton, "registry/pki/der.py", ["from .... import config"])
    assert Tree.read(skeleton).errors == ["registry/pki/der.py:4: `from .... import config` goes above the top package"]


# layer → (file, lines to append) making a circle, and the circle expected in the message
CIRCLES = {
    "pki": (
        [("registry/pki/der.py", ["def f():", "    from .ses import model"])],
        "registry.pki.der → registry.pki.ses.model → registry.pki.der",
        ["registry/pki/der.py:5: `from .ses import model`", "registry/pki/ses/model.py:2: `from .. import der`"],
    ),
    "domain": (
        [("registry/domain/roles.py", ["import importlib", 'importlib.import_module("registry.domain.states")'])],
        "registry.domain.roles → registry.domain.states → registry.domain.roles",
        ['registry/domain/roles.py:5: `importlib.import_module("registry.domain.states")`'],
    ),
    "db": (
        [
            ("registry/db/models.py", ["from .migrate import upgrade"]),
            (
                "registry/db/migrate.py",
                ["from typing import TYPE_CHECKING", "if TYPE_CHECKING:", "    from . import models"],
            ),
        ],
        "registry.db.migrate → registry.db.models → registry.db.migrate",
        ["registry/db/migrate.py:5: `from . import models`", "registry/db/models.py:4: `from .migrate import upgrade`"],
    ),
    "services.core": (
        [("registry/services/core/tx.py", ["def hold():", "    from .leases import lease"])],
        "registry.services.core.leases → registry.services.core.tx → registry.services.core.leases",
        ["registry/services/core/tx.py:4: `from .leases import lease`"],
    ),
    "services": (
        [("registry/services/context.py", ['__import__("registry.services.seals")'])],
        "registry.services.audit → registry.services.context → registry.services.seals → registry.services.audit",
        ['registry/services/context.py:3: `__import__("registry.services.seals")`'],
    ),
    "web": (
        [("registry/web/public.py", ["from . import service_context"])],
        "registry.web → registry.web.public → registry.web",
        [
            "registry/web/__init__.py:6: `from . import public`",
            "registry/web/public.py:4: `from . import service_context`",
        ],
    ),
}


@pytest.mark.parametrize("layer", sorted(CIRCLES))
def test_a_planted_circle_is_reported(skeleton: Path, layer: str) -> None:
    plants, steps, wheres = CIRCLES[layer]
    for file, lines in plants:
        _plant(skeleton, file, lines)
    tree = Tree.read(skeleton)
    assert list(rules.violations(tree)) == []
    (cycle,) = rules.cycles(tree)
    message = str(cycle)
    assert cycle.layer == layer and f"import circle in {layer}: {steps} (" in message, message
    for where in wheres:
        assert where in message
    assert rules.cycles(tree, {(e.importer, e.module) for e in cycle.edges[:1]}) == []


def test_a_circle_across_layers_is_not_a_layer_circle(skeleton: Path) -> None:
    """Across layers an upward import is a rule violation, reported as such, not as a circle."""
    _plant(skeleton, "registry/domain/roles.py", ["from ..db import models"])
    tree = Tree.read(skeleton)
    assert [v.rule for v in rules.violations(tree)] == ["domain-pure"]
    assert rules.cycles(tree) == []


def test_an_allowance_pattern_covers_the_modules_below_it(skeleton: Path) -> None:
    _plant(skeleton, "registry/web/public.py", ["from . import service_context"])
    tree = Tree.read(skeleton)
    assert rules.cycles(tree, {("registry.web.*", "registry.web")}) == []
    assert rules.edges_on_circles(tree) == {
        ("registry.web", "registry.web.public"),
        ("registry.web.public", "registry.web"),
    }
    assert len(rules.cycles(tree, {("registry.web.admin.*", "registry.web")})) == 1


def test_a_cli_package_is_the_cli_layer(skeleton: Path) -> None:
    """registry/cli.py may become registry/cli/: the same rules apply to the package."""
    (skeleton / "registry/cli.py").unlink()
    _write(
        skeleton,
        {
            "registry/cli/__init__.py": "import click\nfrom . import seal\n",
            "registry/cli/seal.py": "from ..db.models import Seal\nfrom . import main\n",
        },
    )
    tree = Tree.read(skeleton)
    assert [str(v) for v in rules.violations(tree)] == [
        "registry/cli/seal.py:1: `from ..db.models import Seal` (registry.db.models.Seal): "
        "web and cli may not import registry.db.models (ask a service) [top-no-models-no-sql]"
    ]
    assert [c.layer for c in rules.cycles(tree)] == ["cli"]


def test_one_planted_violation_per_rule_in_a_copy_of_the_real_tree(tree: Tree, tmp_path: Path) -> None:
    """The same plants in a copy of today's tree: each is reported on top of what it has today."""
    shutil.copytree(ROOT / "registry", tmp_path / "registry", ignore=shutil.ignore_patterns("*.pyc", "translations"))
    baseline = {str(v) for v in rules.violations(tree)}
    expected = {}
    for rule_name, plants in PLANTS.items():
        file, module, name = plants[0]
        if not (tmp_path / file).exists():
            continue
        line = _plant(tmp_path, file, [f"from {module} import {name or 'Planted'}"])
        expected[rule_name] = f"{file}:{line}: `from {module} import {name or 'Planted'}`"
    found = {str(v) for v in rules.violations(Tree.read(tmp_path))} - baseline
    assert len(expected) >= len(PLANTS) - 1
    for rule_name, where in expected.items():
        assert any(f.startswith(where) and f.endswith(f"[{rule_name}]") for f in found), (where, found)


def test_no_module_of_the_package_is_over_650_lines() -> None:
    """One idea per module (issue 12): a module that grows past 650 lines is split along its seams."""
    root = Path(__file__).resolve().parents[1] / "registry"
    long = {
        str(p.relative_to(root)): n
        for p in root.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 650
    }
    assert long == {}
