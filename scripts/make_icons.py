"""Draw the app icons into pwa/static/icons/: a blue shield with a white 警.

Run again after changing the design (``.venv/bin/python scripts/make_icons.py``);
the PNGs are committed. Without a font holding 警 (the check is ``fc-match``),
the shield carries a white five-pointed star instead.
"""

from __future__ import annotations

import logging
import math
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

OUT = Path(__file__).resolve().parent.parent / "pwa" / "static" / "icons"
GLYPH = "警"
BLUE = (11, 58, 130, 255)  # the header colour, --brand in app.css
LIGHT_BLUE = (29, 78, 216, 255)
WHITE = (255, 255, 255, 255)
# Drawn this many times larger, then scaled down: Pillow draws polygons
# without anti-aliasing.
SUPERSAMPLE = 4


def find_cjk_font() -> tuple[str, int] | None:
    """The file and face index of a bold font that covers CJK, if any."""
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}\n%{index}", ":lang=zh-cn:weight=bold"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return None
    path, index = found[0], int(found[1] or 0)
    font = ImageFont.truetype(path, 64, index=index)
    # fc-match always answers something; make sure it really has the glyph.
    if font.getmask(GLYPH).getbbox() is None:
        return None
    return path, index


def shield_outline(size: float, left: float, top: float) -> list[tuple[float, float]]:
    """Points of a badge-like shield inside a ``size`` square at (left, top)."""
    width, height = size * 0.8, size
    x0 = left + (size - width) / 2
    points = [(x0, top + height * 0.12), (x0 + width / 2, top)]
    points.append((x0 + width, top + height * 0.12))
    # Straight sides down to 55%, then a curve into the point at the bottom.
    points.append((x0 + width, top + height * 0.55))
    for step in range(1, 20):
        angle = step / 20 * math.pi / 2
        points.append(
            (
                x0 + width / 2 + width / 2 * math.cos(angle),
                top + height * 0.55 + height * 0.45 * math.sin(angle),
            )
        )
    points.append((x0 + width / 2, top + height))
    mirrored = [(2 * (x0 + width / 2) - x, y) for x, y in reversed(points[3:-1])]
    return points + mirrored


def star(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    """A five-pointed star, point up."""
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.4
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def draw_emblem(
    draw: ImageDraw.ImageDraw, size: float, left: float, top: float, font
) -> None:
    """The shield (white rim, blue face) and its white sign, in a square."""
    draw.polygon(shield_outline(size, left, top), fill=WHITE)
    rim = size * 0.06
    face = shield_outline(size - 2 * rim, left + rim, top + rim)
    draw.polygon(face, fill=BLUE)
    cx, cy = left + size / 2, top + size * 0.53
    if font is None:
        draw.polygon(star(cx, cy, size * 0.26), fill=WHITE)
        return
    glyph_font = ImageFont.truetype(font[0], int(size * 0.5), index=font[1])
    draw.text((cx, cy), GLYPH, font=glyph_font, fill=WHITE, anchor="mm")


def render(size: int, font, *, background, emblem_share: float) -> Image.Image:
    """An icon of ``size`` px; the emblem fills ``emblem_share`` of its height."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), background)
    emblem = big * emblem_share
    offset = (big - emblem) / 2
    draw_emblem(ImageDraw.Draw(image), emblem, offset, offset, font)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    font = find_cjk_font()
    log.info("sign: %s", f"{GLYPH} from {font[0]}" if font else "star (no CJK font)")
    OUT.mkdir(parents=True, exist_ok=True)
    transparent = (0, 0, 0, 0)
    icons = {
        # "any" icons: the shield alone on transparency.
        "icon-192.png": render(192, font, background=transparent, emblem_share=0.92),
        "icon-512.png": render(512, font, background=transparent, emblem_share=0.92),
        # Maskable: launchers crop to a circle of 80% of the width (the safe
        # zone), so the shield stays well inside it on a full-bleed background.
        "icon-maskable-512.png": render(
            512, font, background=LIGHT_BLUE, emblem_share=0.62
        ),
        # iOS fills transparency with black and rounds the corners itself.
        "apple-touch-icon.png": render(
            180, font, background=LIGHT_BLUE, emblem_share=0.74
        ),
    }
    for name, image in icons.items():
        image.save(OUT / name, optimize=True)
        log.info("wrote %s (%d px)", OUT / name, image.width)


if __name__ == "__main__":
    main()
