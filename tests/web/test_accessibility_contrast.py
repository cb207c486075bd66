"""R29 contrast that axe-core does not measure (WCAG 1.4.11 Non-text Contrast): a field's
edge and the focus ring against what they are drawn on, at 3:1, read from the palette in
web/static/web.css. Text contrast is axe's (tests/web/test_accessibility.py)."""

from __future__ import annotations

import re

import pytest

from web.rendering import STATIC

CSS = (STATIC / "web.css").read_text()


def palette() -> dict[str, str]:
    root = re.search(r":root\s*{(.*?)}", CSS, flags=re.S)
    assert root is not None, "web.css has no :root palette"
    found = re.findall(r"--([\w-]+):\s*#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", root.group(1))
    # #fff is #ffffff: each digit doubled.
    return {name: "#" + (h if len(h) == 6 else "".join(d * 2 for d in h)) for name, h in found}


def luminance(hex_colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_wcag() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize(
    "part, on",
    [
        ("control-line", "card"),  # a field's edge on its card
        ("control-line", "bg"),
        ("focus", "card"),  # the ring beside a control on a card
        ("focus", "bg"),  # on the page (the skip link, partner management's header)
        ("focus", "ink"),  # on the dark top bar (the brand link)
        ("bad", "card"),  # a refusal's ring when it takes the focus
    ],
)
def test_r29_edges_and_focus_rings_stand_out_at_3_to_1(part: str, on: str) -> None:
    colours = palette()
    ratio = contrast(colours[part], colours[on])
    assert ratio >= 3, f"--{part} on --{on}: {ratio:.2f}:1"


def test_r29_every_focus_ring_uses_the_palette() -> None:
    """The rings the test above measures are the ones drawn: no rule draws another."""
    rings = re.findall(r"outline:\s*([^;]+);", CSS)
    assert rings, "web.css draws no focus ring"
    assert set(rings) <= {"3px solid var(--focus)", "3px solid var(--bad)"}, rings
