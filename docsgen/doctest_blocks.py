"""A Markdown extension for the API reference: docstring examples written as doctests (``>>>`` lines and
their output) become ``pycon`` code blocks instead of nested block quotes."""
from __future__ import annotations

from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor


class _DoctestBlocks(Preprocessor):
    def run(self, lines):
        out, i = [], 0
        while i < len(lines):
            if not lines[i].lstrip().startswith(">>>"):
                out.append(lines[i])
                i += 1
                continue
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():       # the example runs to the next blank line
                block.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            out += ["", indent + "```pycon", *(indent + b for b in block), indent + "```", ""]
        return out


class DoctestBlocks(Extension):
    def extendMarkdown(self, md):      # Python-Markdown's name for it
        md.preprocessors.register(_DoctestBlocks(md), "kinkgrad_doctest_blocks", 40)
