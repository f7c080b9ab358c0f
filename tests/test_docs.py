"""The docs stay true to the tree: every setting is in docs/configuration.md, every relative link in
README.md, CHANGELOG.md and docs/ resolves (file and heading), and the README stays a front door."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            out.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def test_every_setting_the_code_reads_is_in_the_configuration_doc() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "registry").rglob("*.py"))
    names = set(re.findall(r"REGISTRY_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_]*\*)", code))  # not `REGISTRY_SMTP_*`
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"REGISTRY_[A-Z0-9_]*[A-Z0-9]", doc))
    # a row may name a family: `REGISTRY_AUTHORITY_NAME`, `_EN` (appended); `REGISTRY_SMTP_USERNAME`,
    # `_PASSWORD` (in place of the last word)
    for row in re.findall(r"^\|([^|]*)\|", doc, flags=re.M):
        first = re.search(r"REGISTRY_[A-Z0-9_]*[A-Z0-9]", row)
        for suffix in re.findall(r"`(_[A-Z0-9_]+)`", row) if first else []:
            documented |= {first.group(0) + suffix, first.group(0).rsplit("_", 1)[0] + suffix}
    assert sorted(names - documented) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists() or (anchor and anchor not in _anchors(target)):
            broken.append(link)
    assert broken == []


def test_the_readme_is_a_front_door() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200
