"""The shape of ``registry/cli/`` (issue 12): one module per command group, one error handler, the
service context built once and passed, no rules of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError

from registry.cli import main
from registry.cli.base import RegistryGroup, database_errors_read_as
from registry.config import Settings
from registry.domain.errors import NotFound, ValidationError
from registry.domain.roles import Role
from registry.messages import M
from registry.pki.keys import KeyFormatError
from registry.services import audit
from registry.services.context import Actor

CLI = Path(__file__).resolve().parents[2] / "registry" / "cli"
MODULES = sorted(CLI.glob("*.py"))
SHARED = CLI / "base.py"


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def test_the_cli_is_a_package_of_modules_under_650_lines() -> None:
    assert not (CLI.parent / "cli.py").exists()
    assert len(MODULES) > 5
    long = {p.name: n for p in MODULES if (n := len(p.read_text(encoding="utf-8").splitlines())) > 650}
    assert long == {}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_command_builds_a_context_opens_a_session_or_makes_an_actor(path: Path) -> None:
    """Only the shared state (base.py) builds the service context and the command-line actor;
    sessions are the services' business."""
    bad = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name.endswith(("ServiceContext.create", "Actor.command_line")) and path == SHARED:
                continue
            if (
                name.endswith(
                    ("ServiceContext.create", ".reader", ".transaction", "Actor.system", "Actor.command_line")
                )
                or name in ("Actor", "getpass.getuser", "Settings.from_env")
            ) and not (path == SHARED and name == "Settings.from_env"):
                bad.append(f"{path.name}:{node.lineno} calls {name}")
    assert bad == []


@pytest.mark.parametrize("path", [p for p in MODULES if p != SHARED], ids=lambda p: p.name)
def test_errors_are_translated_in_one_place(path: Path) -> None:
    """No command catches domain, key, OS or database errors itself: the top group does."""
    caught = {"DomainError", "KeyFormatError", "OSError", "SQLAlchemyError", "ValidationError", "Exception"}
    bad = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            names = {_dotted(t).rsplit(".", 1)[-1] for t in types}
            if names & caught:
                bad.append(f"{path.name}:{node.lineno} catches {', '.join(sorted(names & caught))}")
    assert bad == []


def test_every_command_runs_under_the_top_group() -> None:
    assert isinstance(main, RegistryGroup)

    def groups(group: click.Group) -> list[click.Group]:
        subs = [c for c in group.commands.values() if isinstance(c, click.Group)]
        return [group] + [g for s in subs for g in groups(s)]

    # one handler: no other group re-wraps, so an error is translated exactly once
    assert [g.name for g in groups(main) if isinstance(g, RegistryGroup)] == [main.name]


def _toy(raise_: BaseException, *, reads_database: bool = False) -> RegistryGroup:
    group = RegistryGroup("registry")

    def boom() -> None:
        raise raise_

    callback = database_errors_read_as("cannot read the toy")(boom) if reads_database else boom
    group.add_command(click.Command("boom", callback=callback))
    return group


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (NotFound(M("t.nf", "no seal named {x}", "没有名为 {x} 的印章"), x="X"), "no seal named X"),
        (ValidationError(M("t.v", "bad input", "输入有误")), "bad input"),
        (KeyFormatError(M("t.k", "not a key", "不是密钥")), "not a key"),
        (FileNotFoundError(2, "No such file or directory", "/nowhere/x"), "No such file or directory: /nowhere/x"),
        (PermissionError("plain"), "plain"),
    ],
)
def test_the_handler_prints_one_line_and_exits_2(error: BaseException, line: str) -> None:
    result = CliRunner().invoke(_toy(error), ["boom"])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"registry: error: {line}\n")


def test_a_database_error_is_a_refusal_only_where_the_command_says_what_it_reads() -> None:
    error = OperationalError("SELECT 1", {}, Exception("no such table: audit_events\nmore"))
    crash = CliRunner().invoke(_toy(error), ["boom"])
    assert crash.exit_code == 1 and isinstance(crash.exception, OperationalError)
    refused = CliRunner().invoke(_toy(error, reads_database=True), ["boom"])
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr == "registry: error: cannot read the toy: (builtins.Exception) no such table: audit_events\n"
    assert refused.stderr.count("\n") == 1


def test_a_command_needing_no_database_reads_no_settings(tmp_path: Path) -> None:
    """``keygen`` works with a configuration that would stop every database command."""
    env = {"REGISTRY_AREA_CODE": "bad"}
    result = CliRunner().invoke(
        main,
        ["keygen", "--uscc", "91440300MA5F12342Q", "--key-out", str(tmp_path / "k"), "--csr-out", str(tmp_path / "c")],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert isinstance(CliRunner().invoke(main, ["ocsp", "refresh"], env=env).exception, SystemExit)


def test_the_command_line_actor_is_the_os_user_with_every_role() -> None:
    actor = Actor.command_line()
    assert actor.name.startswith("cli:") and len(actor.name) > 4
    assert actor.kind == "system" and actor.roles == frozenset(Role)


def test_require_database_refuses_a_missing_sqlite_file_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "registry.db"
    settings = Settings.from_env(
        {"REGISTRY_INSTANCE_PATH": str(tmp_path), "REGISTRY_DATABASE_URL": f"sqlite:///{missing}"}
    )
    with pytest.raises(ValidationError) as refused:
        audit.require_database(settings)
    assert refused.value.code == "audit.no_database"
    assert str(refused.value) == f"no database at {missing}: run `registry init` first"
    assert str(missing) in refused.value.text("zh")
    assert not missing.parent.exists()
    missing.parent.mkdir()
    missing.write_bytes(b"")
    audit.require_database(settings)  # a file, even an empty one, is for the check to read
    for url in ("sqlite://", "sqlite:///:memory:", "postgresql://u@h/db"):
        audit.require_database(
            Settings.from_env({"REGISTRY_INSTANCE_PATH": str(tmp_path), "REGISTRY_DATABASE_URL": url})
        )
