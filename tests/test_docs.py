"""The documentation site: ``mkdocs build --strict`` passes, the pages carry live tables, outputs and
figures, headless Chromium renders the kink-policy page, and the README's figure is up to date."""
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from docsgen import readme_figure
from kinkgrad.cli import table

ROOT = Path(__file__).resolve().parent.parent
INSTALL_CHROMIUM = "apt-get update && apt-get install -y chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                         check=False, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert res.returncode == 0, f"mkdocs build --strict failed:\n{res.stdout}\n{res.stderr}"
    return out


def _html(site, page):
    return (site / page / "index.html").read_text(encoding="utf-8")


def test_every_page_is_built_and_every_figure_is_a_png(site):
    nav = re.findall(r":\s*([\w/-]+)\.md\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    assert len(nav) >= 15
    for src in nav:
        page = site / ("" if src == "index" else src) / "index.html"
        assert page.is_file(), src
    pngs = sorted((site / "figures").glob("*.png"))
    assert len(pngs) >= 8
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    # each figure is linked from a page
    linked = "".join((p.read_text(encoding="utf-8")) for p in site.rglob("index.html"))
    assert all(p.name in linked for p in pngs)


def test_api_reference_is_generated_from_the_docstrings_with_doctests_as_code(site):
    api = _html(site, "api/core")
    assert "Return a function computing the gradient of scalar" in api          # grad's docstring
    assert '<span class="gp">&gt;&gt;&gt; </span>' in api and "<blockquote>" not in api   # >>> examples are code


def test_conventions_table_is_the_table_command_computed_at_build_time(site):
    html = _html(site, "kink-policies")
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL)
    cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.DOTALL) for r in rows]
    body = {c[0]: c for c in cells[1:]}
    header = cells[0]
    for r in table.rows(header[1:]):
        label = r["op @ point"].replace("<", "&lt;").replace(">", "&gt;")
        assert body[label][1:] == [r[p] for p in header[1:]], label
    assert len(body) == len(table.CASES)


def test_code_blocks_ran_and_their_output_is_on_the_page(site):
    assert "tensor([0., 0., 1.])" in _html(site, "getting-started")
    mae = _html(site, "questions/mae-at-equality")
    assert re.search(r"jax +tensor\(\[0\.5, 0\.5\]", mae)                 # jax: abs'(0) = 1, so +1/n
    study = _html(site, "relu0-study")
    result = json.loads((ROOT / "docs" / "data" / "relu0-full.json").read_text())
    for dt in ("float16", "float32", "float64"):
        assert f"{dt:<10} {result['bifurcation'][dt]:>13.2%}" in study


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("KINKGRAD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"chromium is required (KINKGRAD_REQUIRE_BROWSER=1) but not installed: {INSTALL_CHROMIUM}")
    pytest.skip(f"headless browser check not run: chromium is not installed; install it with: {INSTALL_CHROMIUM}")


PROBE = """<!doctype html><html><body><pre id="probe">pending</pre>
<iframe id="page" src="/kink-policies/" style="width:1200px;height:900px"></iframe>
<script>
document.getElementById("page").addEventListener("load", function () {
  var doc = this.contentDocument;
  var text = function (c) { return c.textContent.trim(); };
  var tables = Array.from(doc.querySelectorAll("table")).map(function (t) {
    var r = t.getBoundingClientRect();
    return {rows: t.rows.length, width: r.width, height: r.height,
            header: Array.from(t.rows[0].cells).map(text),
            relu: Array.from(t.rows).filter(function (row) { return text(row.cells[0]) === "relu(x) @ 0"; })
                  .map(function (row) { return Array.from(row.cells).map(text); })};
  });
  var figures = Array.from(doc.images).filter(function (i) { return i.src.indexOf("/figures/") >= 0; })
    .map(function (i) { var r = i.getBoundingClientRect();
      return {src: i.src, complete: i.complete, naturalWidth: i.naturalWidth, width: r.width, height: r.height}; });
  document.getElementById("probe").textContent = JSON.stringify({title: doc.title, tables: tables, figures: figures});
});
</script></body></html>"""


def test_kink_policy_page_renders_in_headless_chromium(site, tmp_path):
    browser = _chromium()
    (site / "probe.html").write_text(PROBE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/probe.html"
        res = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                              "--virtual-time-budget=15000", "--dump-dom", url],
                             check=False, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
    found = re.search(r'<pre id="probe">(.*?)</pre>', res.stdout, re.DOTALL)
    assert found and found.group(1) != "pending", f"the page did not load in chromium:\n{res.stdout[-2000:]}"
    probe = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert probe["title"].startswith("Kink policies")
    conventions = [t for t in probe["tables"] if t["header"] and t["header"][0] == "op @ point"]
    assert len(conventions) == 1
    (conv,) = conventions
    assert conv["rows"] == len(table.CASES) + 1 and conv["height"] > 300 and conv["width"] > 300
    relu_row = dict(zip(conv["header"], conv["relu"][0]))
    assert relu_row["default"] == "0" and relu_row["right"] == "1" and relu_row["mid"] == "0.5"
    assert probe["figures"], "no figure on the page"
    for fig in probe["figures"]:       # every figure was fetched, decoded and laid out
        assert fig["complete"] and fig["naturalWidth"] > 200 and fig["width"] > 100 and fig["height"] > 100, fig


def test_readme_figure_is_drawn_by_the_current_code():
    assert readme_figure.PATH.is_file(), "run: python -m docsgen.readme_figure"
    assert readme_figure.stored_digest() == readme_figure.digest(readme_figure.make()), (
        "the README's figure is out of date: run python -m docsgen.readme_figure")
    readme = (ROOT / "README.md").read_text()
    assert readme_figure.PATH.relative_to(ROOT).as_posix() in readme
