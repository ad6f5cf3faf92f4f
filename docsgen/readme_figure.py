"""The README's figure, drawn by ``kinkgrad.plot``: ``python -m docsgen.readme_figure`` rewrites it.

The PNG carries a digest of what the figure draws (line data, points, bars, texts) in its metadata, so
a test can tell whether the committed picture still shows what the code draws today, whatever
matplotlib version renders the pixels.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH = ROOT / "docs" / "assets" / "readme-abs-kink.png"
KEY = "Description"
PREFIX = "kinkgrad figure digest "


def make():
    import kinkgrad as kg
    from kinkgrad import plot

    return plot.kink(kg.abs, 0.0)


def _num(v):
    return f"{float(v):.9g}"


def digest(fig):
    """sha256 of the figure's content: every line's data, scatter offsets, patch extents and texts."""
    parts = []
    for ax in fig.axes:
        parts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        for line in ax.lines:
            x, y = line.get_data()
            parts.append(line.get_label() + ":" + ",".join(map(_num, list(x) + list(y))))
        for coll in ax.collections:
            parts.append(coll.get_label() + ":" + ",".join(map(_num, coll.get_offsets().ravel())))
        for patch in ax.patches:
            box = patch.get_bbox() if hasattr(patch, "get_bbox") else None
            if box is not None:
                parts.append(",".join(map(_num, (box.x0, box.y0, box.x1, box.y1))))
        parts += [t.get_text() for t in ax.texts]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def write(path=PATH):
    fig = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, metadata={"Software": None, KEY: PREFIX + digest(fig)})
    return path


def stored_digest(path=PATH):
    from PIL import Image

    with Image.open(path) as im:
        text = im.text.get(KEY, "")
    return text[len(PREFIX):] if text.startswith(PREFIX) else None


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    print(f"wrote {write().relative_to(ROOT)}")
