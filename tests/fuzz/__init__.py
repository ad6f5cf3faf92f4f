"""Differential fuzzing of kinkgrad against PyTorch 2.13 (driven by tests/test_fuzz.py).

``table`` (what an op entry says) and ``ops_*`` (the entries, every primitive family) make the op
table ``ops.OPS``; ``program`` builds random programs over it; ``compare`` runs one program in both
libraries and reports every difference; ``known`` lists the op variants found to differ, with their
reproducers; ``survey`` fuzzes many programs and groups all mismatches (``python -m fuzz.survey``).
"""
