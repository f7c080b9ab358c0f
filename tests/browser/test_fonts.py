"""Chinese text renders with a CJK font, not as boxes: a machine without fonts-noto-cjk fails here."""

from __future__ import annotations

from typing import Any

from .support import shot

HEADING = "电子印章登记系统"

# Draw each character alone on a canvas in the heading's own font and return its pixels as a string
# (alpha channel only). Tofu boxes all look alike, so distinct glyphs prove real outlines were drawn;
# U+10FFFD (plane 16 private use, in no font) is drawn too as the "missing glyph" reference.
_DRAW = """([sel, chars]) => {
  const font = getComputedStyle(document.querySelector(sel)).font;
  const c = document.createElement('canvas'); c.width = 48; c.height = 48;
  const g = c.getContext('2d', {willReadFrequently: true});
  return chars.map(ch => {
    g.clearRect(0, 0, 48, 48); g.font = font.replace(/\\d+(\\.\\d+)?px/, '32px');
    g.textBaseline = 'top'; g.fillStyle = '#000'; g.fillText(ch, 4, 4);
    const px = g.getImageData(0, 0, 48, 48).data;
    let s = ''; let ink = 0;
    for (let i = 3; i < px.length; i += 4) { s += px[i] > 127 ? '#' : '.'; ink += px[i] > 127; }
    return {ch, ink, bitmap: s, width: g.measureText(ch).width};
  });
}"""


def _platform_fonts(page: Any, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium actually used for the node's text (DevTools CSS.getPlatformFontsForNode)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return fonts  # type: ignore[no-any-return]


def test_chinese_text_is_drawn_with_a_cjk_font(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    heading = page.locator("header h1")
    assert heading.inner_text() == HEADING
    shot(page, "heading", heading)

    fonts = _platform_fonts(page, "header h1")
    cjk = [f for f in fonts if "CJK" in f["familyName"]]
    assert cjk, f"the heading is not drawn with a CJK font (install fonts-noto-cjk); fonts used: {fonts}"
    assert sum(f["glyphCount"] for f in cjk) == len(HEADING), fonts

    glyphs = page.evaluate(_DRAW, ["header h1", list("电子印章") + ["\U0010fffd"]])
    *chars, missing = glyphs
    for g in chars:
        assert g["ink"] > 40 and g["width"] > 20, f"{g['ch']} drew nothing: {g['ink']} px, width {g['width']}"
        assert g["bitmap"] != missing["bitmap"], f"{g['ch']} is drawn as the missing-glyph box"
    assert len({g["bitmap"] for g in chars}) == len(chars), "different characters drew the same box"
