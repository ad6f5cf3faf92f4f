"""MkDocs hook: the conventions table computed live (the code of ``python -m kinkgrad table``), the
``python run`` code blocks executed with their output and figures, and the ReLU'(0) study rendered
from its recorded full run. Every figure on the site is drawn here, at build time."""
from __future__ import annotations

import json
import posixpath
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT / "src"), str(ROOT)):      # document this checkout, whatever is installed
    if entry not in sys.path:
        sys.path.insert(0, entry)

from docsgen.doctest_blocks import DoctestBlocks  # noqa: E402  (importable once the checkout is on the path)
from docsgen.runner import figure_png, render, run_page  # noqa: E402

STUDY_JSON = ROOT / "docs" / "data" / "relu0-full.json"
STUDY_FIGURE = "figures/relu0-study.png"
RUNS = {}


def on_config(config):
    """Docstring doctests render as code in the API reference (mkdocstrings reads these extensions)."""
    config.markdown_extensions.append(DoctestBlocks())
    return config


def on_files(files, config):
    from mkdocs.structure.files import File

    from kinkgrad.cli import relu0

    RUNS.clear()
    for f in list(files.documentation_pages()):
        markdown = Path(f.abs_src_path).read_text(encoding="utf-8")
        if "```python run" not in markdown:
            continue
        run = RUNS[f.src_uri] = run_page(f.src_uri, markdown)
        for item in run.figures:
            if item is not None:
                files.append(File.generated(config, item[0], content=item[1]))
    result = json.loads(STUDY_JSON.read_text())
    files.append(File.generated(config, STUDY_FIGURE, content=figure_png(relu0.figure(result))))
    return files


def _study_block(page_dir):
    from kinkgrad.cli import relu0

    result = json.loads(STUDY_JSON.read_text())
    s = result["settings"]
    figure = posixpath.relpath(STUDY_FIGURE, page_dir or ".")
    numbers = posixpath.relpath("data/relu0-full.json", page_dir or ".")
    seconds = result["seconds"]
    lines = [f"```text\n{relu0.table(result).rstrip()}\n```", "",
             f"![The ReLU'(0) study: bifurcation fraction per epoch and test accuracies]({figure})", "",
             (f"*Recorded {result['mode']} run: kinkgrad {result['kinkgrad']}, `{s['network']}`, "
              f"{seconds['bifurcation']:.0f} s for part (a) and {seconds['accuracy']:.0f} s for part (b) on 2 CPU "
              f"cores; the numbers are in [relu0-full.json]({numbers}).*")]
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    from kinkgrad.cli import table

    src = page.file.src_uri
    page_dir = posixpath.dirname(src)
    if "<!-- kinkgrad:conventions-table -->" in markdown:
        import kinkgrad as kg

        first = ("default", "torch", "jax", "tensorflow")     # the frameworks' columns next to the default
        order = list(first) + [p for p in kg.PRESETS if p not in first]
        markdown = markdown.replace("<!-- kinkgrad:conventions-table -->", table.render("markdown", presets=order))
    if "<!-- kinkgrad:relu0-study -->" in markdown:
        markdown = markdown.replace("<!-- kinkgrad:relu0-study -->", _study_block(page_dir))
    if src in RUNS:
        markdown = render(markdown, RUNS[src], page_dir)
    return markdown
