"""Runs the code blocks of a documentation page marked ```` ```python run ```` and collects what they
print and the figures they leave in ``fig``: pages show output computed when the site is built.

A block that raises stops the build (the page would otherwise show code that does not run).
"""
from __future__ import annotations

import contextlib
import io
import re
import warnings

FENCE = re.compile(r"^```python run[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


class PageRun:
    """What running one page produced: per block, its printed text and its figure (PNG bytes)."""

    def __init__(self, src_uri, outputs, figures):
        self.src_uri = src_uri
        self.outputs = outputs            # [str] per block
        self.figures = figures            # [(figure path in the site, png bytes) or None] per block


def figure_png(fig, dpi=96):
    """PNG bytes of a matplotlib Figure, without build-specific metadata (the same data give the same
    file on one matplotlib version)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def run_page(src_uri, markdown):
    """Execute the page's ``python run`` blocks in order, in one namespace."""
    from matplotlib.figure import Figure

    namespace = {"__name__": f"docs:{src_uri}"}
    outputs, figures = [], []
    slug = src_uri[:-3].replace("/", "-")
    for k, match in enumerate(FENCE.finditer(markdown), start=1):
        code = match.group(1)
        buf = io.StringIO()
        namespace.pop("fig", None)
        with contextlib.redirect_stdout(buf), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(compile(code, f"{src_uri} block {k}", "exec"), namespace)  # noqa: S102  (our own pages)
            except Exception as e:
                raise RuntimeError(f"{src_uri}: code block {k} raised {type(e).__name__}: {e}\n{code}") from e
        outputs.append(buf.getvalue())
        fig = namespace.get("fig")
        figures.append((f"figures/{slug}-{k}.png", figure_png(fig)) if isinstance(fig, Figure) else None)
    return PageRun(src_uri, outputs, figures)


def render(markdown, run, page_dir):
    """The page's markdown with each ``python run`` block followed by its output and figure."""
    import posixpath

    pieces, last, k = [], 0, 0
    for k, match in enumerate(FENCE.finditer(markdown)):
        pieces.append(markdown[last:match.start()])
        pieces.append(f"```python\n{match.group(1)}```\n")
        out = run.outputs[k]
        if out.strip():
            pieces.append(f"\n```text\n{out.rstrip()}\n```\n")
        if run.figures[k] is not None:
            rel = posixpath.relpath(run.figures[k][0], page_dir or ".")
            pieces.append(f"\n![figure drawn by the code above]({rel})\n")
        last = match.end()
    pieces.append(markdown[last:])
    return "".join(pieces)
