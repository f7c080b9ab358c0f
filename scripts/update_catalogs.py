#!/usr/bin/env python3
"""Re-extract the portal's messages and merge them into the catalogs (developers run this after
changing strings; the set-up only compiles). New messages arrive untranslated: the test suite
fails until every message has its Chinese translation in registry/translations/zh/.

Usage: scripts/update_catalogs.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POT = ROOT / "registry" / "translations" / "messages.pot"


def main() -> None:
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [
            str(pybabel),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-o",
            str(POT),
            "--no-location",
            "--omit-header",
            "--sort-output",
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    for lang in ("zh", "en"):
        po = ROOT / "registry" / "translations" / lang / "LC_MESSAGES" / "messages.po"
        if po.exists():
            subprocess.run(
                [
                    str(pybabel),
                    "update",
                    "-i",
                    str(POT),
                    "-o",
                    str(po),
                    "-l",
                    lang,
                    "--no-fuzzy-matching",
                    "--ignore-obsolete",
                    "--width",
                    "120",  # the committed catalogs' width: a new string is a small diff, not a rewrap
                ],
                cwd=ROOT,
                check=True,
            )
        else:
            po.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([str(pybabel), "init", "-i", str(POT), "-o", str(po), "-l", lang], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
