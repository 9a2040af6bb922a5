"""Small inline SVG charts for the HTML digest, drawn by hand: no script, no chart library.

Each chart is a complete `<svg>` element with a `<title>` (read by screen readers) and its
numbers written next to its bars, so it still says everything when the picture is not shown.
Every text placed in a chart is escaped here.
"""

from __future__ import annotations

from html import escape

BAR_COLOUR = "#3b6ea5"
MUTED = "#6b7280"
FONT = "font-family=\"system-ui,-apple-system,Segoe UI,sans-serif\" font-size=\"11\""


def column_chart(title: str, labels: list[str], values: list[int], *, width: int = 420,
                 height: int = 150) -> str:
    """Vertical bars, one per label (the week's days), each with its value above it."""
    top, bottom = 18, 20
    plot = height - top - bottom
    slot = width / max(len(values), 1)
    peak = max(values, default=0) or 1
    parts = [_open(title, width, height)]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar = round(plot * value / peak, 1)
        x = round(index * slot + slot * 0.2, 1)
        y = round(top + plot - bar, 1)
        centre = round(index * slot + slot / 2, 1)
        parts.append(f'<rect x="{x}" y="{y}" width="{round(slot * 0.6, 1)}" height="{bar}" '
                     f'fill="{BAR_COLOUR}" rx="2"/>')
        parts.append(f'<text x="{centre}" y="{round(y - 4, 1)}" text-anchor="middle" {FONT} '
                     f'fill="#111827">{value}</text>')
        parts.append(f'<text x="{centre}" y="{height - 6}" text-anchor="middle" {FONT} '
                     f'fill="{MUTED}">{escape(label)}</text>')
    parts.append(f'<line x1="0" y1="{top + plot}" x2="{width}" y2="{top + plot}" '
                 f'stroke="#d1d5db"/>')
    return "".join(parts) + "</svg>"


def bar_chart(title: str, rows: list[tuple[str, int]], *, width: int = 420,
              row_height: int = 22) -> str:
    """Horizontal bars, one per (label, value) row, longest scaled to the chart's width."""
    label_width, number_width = 110, 40
    plot = width - label_width - number_width
    peak = max((value for _, value in rows), default=0) or 1
    height = row_height * max(len(rows), 1) + 4
    parts = [_open(title, width, height)]
    for index, (label, value) in enumerate(rows):
        y = index * row_height + 2
        bar = round(plot * value / peak, 1)
        middle = y + row_height / 2 + 4
        parts.append(f'<text x="{label_width - 8}" y="{middle}" text-anchor="end" {FONT} '
                     f'fill="{MUTED}">{escape(label)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{bar}" '
                     f'height="{row_height - 6}" fill="{BAR_COLOUR}" rx="2"/>')
        parts.append(f'<text x="{round(label_width + bar + 6, 1)}" y="{middle}" {FONT} '
                     f'fill="#111827">{value}</text>')
    return "".join(parts) + "</svg>"


def _open(title: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>")
