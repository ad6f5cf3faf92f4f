"""Build-time machinery of the documentation site (MkDocs hook, live code blocks, generated figures)."""
