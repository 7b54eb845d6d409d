"""Writing on the page's pad from tests: a drawing's strokes (on its own canvas) mapped onto the
pad as a person would write them, a digit across the pad's height in its middle."""

from __future__ import annotations


def pad_points(page, stroke: list[list[float]], canvas: float = 280) -> list[tuple[float, float]]:  # noqa: ANN001
    """A stroke on a canvas x canvas drawing -> page coordinates in a square as tall as the (wide) pad, centred."""
    box = page.get_by_test_id("pad").bounding_box()
    side = min(box["width"], box["height"])
    x0, y0 = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
    return [(x0 + x / canvas * side, y0 + y / canvas * side) for x, y in stroke]


def draw_mouse(page, record: dict) -> None:  # noqa: ANN001
    """A pendigits-style record drawn with the mouse, stroke by stroke."""
    for stroke in record["strokes"]:
        pts = pad_points(page, stroke, record.get("canvas", 280))
        page.mouse.move(*pts[0])
        page.mouse.down()
        for p in pts[1:]:
            page.mouse.move(*p)
        page.mouse.up()


def draw_number_mouse(page, records: list[dict], gap: float = 0.25) -> None:  # noqa: ANN001
    """Several pendigits-style records written left to right with the mouse, each in a square
    0.8 of the pad's height, ``gap`` of that apart, the whole number centred on the pad."""
    box = page.get_by_test_id("pad").bounding_box()
    side = 0.8 * min(box["height"], box["width"] / (len(records) * (1 + gap)))
    width = side * (len(records) + gap * (len(records) - 1))
    x0, y0 = box["x"] + (box["width"] - width) / 2, box["y"] + (box["height"] - side) / 2
    for k, record in enumerate(records):
        canvas = record.get("canvas", 280)
        left = x0 + k * side * (1 + gap)
        for stroke in record["strokes"]:
            pts = [(left + x / canvas * side, y0 + y / canvas * side) for x, y in stroke]
            page.mouse.move(*pts[0])
            page.mouse.down()
            for p in pts[1:]:
                page.mouse.move(*p)
            page.mouse.up()


# A page-side helper for page.evaluate snippets (prepend it to the function's body): a PNG as
# base64 -> its RGBA ImageData, decoded as the page decodes a drawing (no premultiplied alpha).
PIXELS_OF = """
  const pixelsOf = async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }),
                                           { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    const ctx = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
    return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  };
"""
