"""Developer helper: fill Chinese translations from a JSON dict on stdin into the zh catalog, and
copy msgids into the en catalog. Not part of the set-up."""

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

root = Path(__file__).resolve().parents[1] / "registry" / "translations"
new = json.loads(sys.stdin.read())
for lang in ("zh", "en"):
    path = root / lang / "LC_MESSAGES" / "messages.po"
    cat = read_po(path.open("rb"), locale=lang)
    for m in cat:
        if m.id and not m.string:
            m.string = new.get(m.id, "") if lang == "zh" else m.id
        m.flags.discard("fuzzy")
    with path.open("wb") as fh:
        write_po(fh, cat, no_location=True, sort_output=True, width=120, omit_header=False)
