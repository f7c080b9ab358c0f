"""The import rules of docs/architecture.md ("What may import what"), as a checker over a source tree.

``Tree.read(root)`` reads every ``*.py`` under ``root/registry`` with :mod:`ast` (nothing is imported
or run); ``violations(tree)`` gives the imports that break a rule of ``RULES`` and ``cycles(tree)`` the
import circles inside a layer, each naming the file, the line and the import as written.
``tests/test_layering.py`` runs them on the real tree and on planted violations in a ``tmp_path`` tree.

What counts as an import (every form resolves to the absolute dotted name it loads):

- ``import a.b`` (``a.b``), ``from a import b`` (``a.b`` when ``b`` is a module or package of the tree,
  else ``a``, with ``b`` kept as the imported name), relative imports at any level resolved against the
  file's own package (an ``__init__.py`` is its package; any other file's package is its folder);
- imports anywhere in the file: module level, inside functions and classes, under ``if TYPE_CHECKING``;
- ``importlib.import_module("...")`` (also relative, with a literal ``package=`` or ``__package__``) and
  ``__import__("...")`` (with a literal ``fromlist`` and ``level``) when the module name is a literal.

Third-party packages count by their top-level package (``FAMILIES``); a module of the tree counts by
its layer (``layer_of``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "registry"
Node = ast.stmt | ast.expr  # what an import is read from: a statement or a call

# Third-party families, by top-level package.
WEB_CLI_FRAMEWORKS = frozenset(
    {"flask", "flask_login", "flask_babel", "flask_wtf", "wtforms", "werkzeug", "jinja2", "click", "gunicorn"}
)
STORAGE = frozenset({"sqlalchemy", "alembic"})
FAMILIES = {"web/CLI framework": WEB_CLI_FRAMEWORKS, "storage": STORAGE}

# SQLAlchemy names that build or run a query: the web layer and the CLI may not import them (from any
# sqlalchemy module) nor reach them through a module alias (``sa.select(...)``).
QUERY_BUILDING = frozenset({"select", "insert", "update", "delete", "text", "func", "Session", "sessionmaker", "Query"})

# The layers, lowest first. A module belongs to the first whose prefix it matches. ``registry.cli`` is
# the module ``registry/cli.py`` or the package ``registry/cli/``.
LAYERS = (
    ("messages", "registry.messages"),
    ("config", "registry.config"),
    ("services.core", "registry.services.core"),
    ("pki", "registry.pki"),
    ("domain", "registry.domain"),
    ("db", "registry.db"),
    ("services", "registry.services"),
    ("web", "registry.web"),
    ("cli", "registry.cli"),
)


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str) -> str | None:
    for layer, prefix in LAYERS:
        if under(module, prefix):
            return layer
    return None


def top(name: str) -> str:
    return name.split(".", 1)[0]


def family_of(name: str) -> str | None:
    for family, packages in FAMILIES.items():
        if top(name) in packages:
            return family
    return None


@dataclass(frozen=True)
class Import:
    """One name an import statement (or call) loads, resolved."""

    file: str  # path relative to the root, e.g. "registry/services/seals.py"
    importer: str  # the importing module, e.g. "registry.services.seals"
    line: int
    module: str  # the absolute module loaded, e.g. "registry.db.models" or "sqlalchemy"
    name: str | None  # the name taken from it when it is not a module (``from a import name``)
    text: str  # the import as written, on one line

    @property
    def target(self) -> str:
        return f"{self.module}.{self.name}" if self.name else self.module

    def where(self) -> str:
        return f"{self.file}:{self.line}: `{self.text}`"


@dataclass(frozen=True)
class Violation:
    rule: str
    imp: Import
    why: str

    def __str__(self) -> str:
        return f"{self.imp.where()} ({self.imp.target}): {self.why} [{self.rule}]"


@dataclass
class Tree:
    """The modules of one source tree, and every import in them."""

    root: Path
    modules: dict[str, Path] = field(default_factory=dict)  # dotted name → file
    imports: list[Import] = field(default_factory=list)
    uses: list[Import] = field(default_factory=list)  # query-building uses (``sa.select``, ``x.session.query``)
    errors: list[str] = field(default_factory=list)  # imports that could not be resolved

    @classmethod
    def read(cls, root: Path) -> Tree:
        tree = cls(root)
        files = sorted((root / PACKAGE).rglob("*.py"))
        for path in files:
            tree.modules[module_name(root, path)] = path
        for path in files:
            _Reader(tree, path).run()
        return tree

    def is_module(self, name: str) -> bool:
        return name in self.modules


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class _Reader:
    def __init__(self, tree: Tree, path: Path) -> None:
        self.tree = tree
        self.path = path
        self.file = path.relative_to(tree.root).as_posix()
        self.module = module_name(tree.root, path)
        self.package = self.module if path.name == "__init__.py" else self.module.rpartition(".")[0]
        self.source = path.read_text(encoding="utf-8")
        self.lines = re.split(r"\r\n|\r|\n", self.source)
        self.aliases: dict[str, str] = {}  # local name → sqlalchemy module it is bound to

    def run(self) -> None:
        node = ast.parse(self.source, self.file)
        attributes: list[ast.Attribute] = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                for alias in sub.names:
                    self._add(sub, alias.name, None)
                    if top(alias.name) == "sqlalchemy":
                        self.aliases[alias.asname or top(alias.name)] = alias.name if alias.asname else "sqlalchemy"
            elif isinstance(sub, ast.ImportFrom):
                base = self._absolute(sub, sub.module or "", sub.level)
                if base is None:
                    continue
                for alias in sub.names:
                    self._from(sub, base, alias.name)
                    if top(base) == "sqlalchemy" and alias.name.islower():  # a module (sql, orm), not a class
                        self.aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
            elif isinstance(sub, ast.Call):
                self._call(sub)
            elif isinstance(sub, ast.Attribute) and (sub.attr in QUERY_BUILDING or sub.attr == "query"):
                attributes.append(sub)
        for sub in attributes:  # once every alias is known
            self._use(sub)

    # -- resolution

    def _absolute(self, node: Node, module: str, level: int, package: str | None = None) -> str | None:
        """``module`` as written ``level`` dots below ``package`` (default: the file's package)."""
        if not level:
            return module
        parts = (self.package if package is None else package).split(".")
        if not parts[0] or level > len(parts):
            self.tree.errors.append(f"{self.file}:{node.lineno}: `{self._text(node)}` goes above the top package")
            return None
        return ".".join(parts[: len(parts) - (level - 1)] + ([module] if module else []))

    def _from(self, node: Node, base: str, name: str) -> None:
        if name != "*" and self.tree.is_module(f"{base}.{name}"):
            self._add(node, f"{base}.{name}", None)
        else:
            self._add(node, base, None if name == "*" else name)

    def _call(self, call: ast.Call) -> None:
        func = call.func
        if isinstance(func, ast.Name):
            fname = func.id
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "importlib":
            fname = func.attr
        else:
            return
        if fname not in ("import_module", "__import__") or not call.args:
            return
        first = call.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            return
        name: str = first.value
        kwargs = {k.arg: k.value for k in call.keywords if k.arg}
        if fname == "import_module":
            level = len(name) - len(name.lstrip("."))
            if level:
                package = call.args[1] if len(call.args) > 1 else kwargs.get("package")
                if isinstance(package, ast.Name) and package.id in ("__package__", "__name__"):
                    anchor = self.package if package.id == "__package__" else self.module
                elif isinstance(package, ast.Constant) and isinstance(package.value, str):
                    anchor = package.value
                else:
                    return
                base = self._absolute(call, name[level:], level, anchor)
                if base is not None:
                    self._add(call, base, None)
            else:
                self._add(call, name, None)
            return
        level_node = call.args[4] if len(call.args) > 4 else kwargs.get("level")
        level = level_node.value if isinstance(level_node, ast.Constant) and isinstance(level_node.value, int) else 0
        base = self._absolute(call, name, level)
        if base is None:
            return
        fromlist = call.args[3] if len(call.args) > 3 else kwargs.get("fromlist")
        names = (
            [e.value for e in fromlist.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if isinstance(fromlist, ast.List | ast.Tuple)
            else []
        )
        if names:
            for n in names:
                self._from(call, base, n)
        else:
            self._add(call, base, None)

    def _use(self, node: ast.Attribute) -> None:
        """``sa.select`` through an alias of a sqlalchemy module; ``<...session>.query``."""
        value = node.value
        root: ast.expr = value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in self.aliases and node.attr in QUERY_BUILDING:
            self.tree.uses.append(self._import(node, self.aliases[root.id], node.attr))
        elif node.attr == "query":
            # a session's query(): the receiver's name says session (session, db_session, sess,
            # Session, get_session()); a service's own function named query is not caught
            receiver = value.func if isinstance(value, ast.Call) else value
            name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
            if "sess" in name.lower():
                self.tree.uses.append(self._import(node, "sqlalchemy.orm", "Session.query"))

    # -- recording

    def _text(self, node: Node) -> str:
        """The node's source on one line (``ast.get_source_segment``, without re-splitting the file)."""
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        start, end = node.col_offset, node.end_col_offset  # UTF-8 byte offsets
        lines = [line.encode() for line in self.lines[first : last + 1]]
        lines[-1] = lines[-1][:end]
        lines[0] = lines[0][start:]
        return " ".join(b"\n".join(lines).decode().split())

    def _import(self, node: Node, module: str, name: str | None) -> Import:
        return Import(self.file, self.module, node.lineno, module, name, self._text(node))

    def _add(self, node: Node, module: str, name: str | None) -> None:
        self.tree.imports.append(self._import(node, module, name))


# -- the rules


@dataclass(frozen=True)
class Rule:
    name: str
    layers: tuple[str, ...]  # the layers the rule applies to (by the importer)
    refuse: Callable[[Import], str | None]  # why the import is refused, or None
    uses: bool = False  # also check the query-building uses (``sa.select``, ``session.query``)


def _only_registry(allowed: Iterable[str], what: str) -> Callable[[Import], str | None]:
    allowed = tuple(allowed)

    def refuse(imp: Import) -> str | None:
        if under(imp.module, PACKAGE) and not any(under(imp.target, a) for a in allowed):
            return f"{what} may import only {', '.join(allowed)} of {PACKAGE}"
        return None

    return refuse


def _no_family(families: Iterable[str], what: str) -> Callable[[Import], str | None]:
    families = tuple(families)

    def refuse(imp: Import) -> str | None:
        family = family_of(imp.module)
        if family in families:
            return f"{what} may not import a {family} package ({top(imp.module)})"
        return None

    return refuse


def _no_registry(refused: Iterable[str], what: str) -> Callable[[Import], str | None]:
    refused = tuple(refused)

    def refuse(imp: Import) -> str | None:
        for r in refused:
            if under(imp.target, r):
                return f"{what} may not import {r}"
        return None

    return refuse


def _core_floor(imp: Import) -> str | None:
    if (
        under(imp.target, "registry.services")
        and not under(imp.target, "registry.services.core")
        and not under(imp.target, "registry.services.context")
    ):
        return "services.core (the lower floor) may not import a use case module of registry.services"
    return None


def _top_no_models(imp: Import) -> str | None:
    if under(imp.target, "registry.db.models"):
        return "web and cli may not import registry.db.models (ask a service)"
    if top(imp.module) == "sqlalchemy" and imp.name and imp.name.split(".")[0] in QUERY_BUILDING:
        return f"web and cli may not build SQL ({imp.name}): ask a service"
    return None


RULES = (
    Rule("messages-bottom", ("messages",), _only_registry(("registry.messages",), "messages")),
    Rule("config-beside", ("config",), _only_registry(("registry.config", "registry.messages"), "config")),
    Rule("pki-pure", ("pki",), _only_registry(("registry.pki", "registry.messages"), "pki")),
    Rule("pki-no-frameworks", ("pki",), _no_family(("web/CLI framework", "storage"), "pki")),
    Rule(
        "domain-pure", ("domain",), _only_registry(("registry.domain", "registry.pki", "registry.messages"), "domain")
    ),
    Rule("domain-no-frameworks", ("domain",), _no_family(("web/CLI framework", "storage"), "domain")),
    Rule(
        "db-below-services",
        ("db",),
        _only_registry(
            ("registry.db", "registry.pki", "registry.domain", "registry.config", "registry.messages"), "db"
        ),
    ),
    Rule("db-no-web-frameworks", ("db",), _no_family(("web/CLI framework",), "db")),
    Rule(
        "services-below-web", ("services", "services.core"), _no_registry(("registry.web", "registry.cli"), "services")
    ),
    Rule("services-no-web-frameworks", ("services", "services.core"), _no_family(("web/CLI framework",), "services")),
    Rule("core-below-use-cases", ("services.core",), _core_floor),
    Rule("top-no-models-no-sql", ("web", "cli"), _top_no_models, uses=True),
)


def violations(tree: Tree, rules: Iterable[Rule] = RULES) -> Iterator[Violation]:
    for rule in rules:
        for imp in [*tree.imports, *tree.uses] if rule.uses else tree.imports:
            if layer_of(imp.importer) in rule.layers:
                why = rule.refuse(imp)
                if why:
                    yield Violation(rule.name, imp, why)


# -- circles


def edge_matches(edge: tuple[str, str], pattern: tuple[str, str]) -> bool:
    """``pattern`` is (importer, imported); an importer ending in ``.*`` means any module below it."""
    importer, imported = pattern
    if importer.endswith(".*"):
        return edge[1] == imported and edge[0].startswith(importer[:-1])
    return edge == pattern


def layer_graph(tree: Tree, allowed: Iterable[tuple[str, str]] = ()) -> dict[str, dict[str, dict[str, Import]]]:
    """Per layer: module → imported module of the same layer → the first import that makes the edge.

    Every import counts (module level, function-local, under TYPE_CHECKING). ``from pkg import name``
    where ``name`` is not a module is an edge to the package ``pkg`` (its ``__init__``). Edges that
    match a pattern in ``allowed`` (see :func:`edge_matches`) are left out.
    """
    allowed = tuple(allowed)
    graphs: dict[str, dict[str, dict[str, Import]]] = {}
    for imp in tree.imports:
        layer = layer_of(imp.importer)
        if layer is None or imp.module == imp.importer or not tree.is_module(imp.module):
            continue
        if layer_of(imp.module) != layer:
            continue
        if any(edge_matches((imp.importer, imp.module), a) for a in allowed):
            continue
        edges = graphs.setdefault(layer, {}).setdefault(imp.importer, {})
        edges.setdefault(imp.module, imp)
    return graphs


def _components(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def edges_on_circles(tree: Tree, allowed: Iterable[tuple[str, str]] = ()) -> set[tuple[str, str]]:
    """Every edge (importer, imported) that lies on an import circle inside a layer."""
    found = set()
    for graph in layer_graph(tree, allowed).values():
        for members in _components(graph):
            inside = set(members)
            found |= {(a, b) for a in members for b in graph.get(a, {}) if b in inside}
    return found


def _one_cycle(graph: dict[str, dict[str, Import]], members: list[str]) -> list[Import]:
    """A shortest circle through the first member, as the imports that make it."""
    start, inside = members[0], set(members)
    paths: dict[str, list[Import]] = {start: []}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w, imp in sorted(graph.get(v, {}).items()):
            if w == start:
                return [*paths[v], imp]
            if w in inside and w not in paths:
                paths[w] = [*paths[v], imp]
                queue.append(w)
    raise AssertionError("not a strongly connected component")  # pragma: no cover


@dataclass(frozen=True)
class Cycle:
    layer: str
    modules: frozenset[str]
    edges: tuple[Import, ...]  # one circle through the component

    def __str__(self) -> str:
        steps = " → ".join([*(e.importer for e in self.edges), self.edges[0].importer])
        lines = "; ".join(e.where() for e in self.edges)
        return f"import circle in {self.layer}: {steps} ({lines})"


def cycles(tree: Tree, allowed: Iterable[tuple[str, str]] = ()) -> list[Cycle]:
    """The import circles inside each layer, one per strongly connected component."""
    found = []
    for layer, graph in sorted(layer_graph(tree, allowed).items()):
        for members in _components(graph):
            found.append(Cycle(layer, frozenset(members), tuple(_one_cycle(graph, members))))
    return found
