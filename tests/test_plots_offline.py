"""`dvc plots show` renders with no network: the Vega libraries come inlined from plots_template/offline.html.

The real `dvc` CLI runs in a copy of the repository (its own `git init`). Headless Chromium then opens the
page, which is offline in the sense that matters: nothing it needs is fetched from anywhere.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "plots_template" / "offline.html"
VEGA_TARGETS = ["dvc.yaml::plots/predictions", "dvc.yaml::plots/history"]  # top-level plot ids
CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
pytestmark = pytest.mark.integration


def run(cmd: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_rows(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *rows])


def ensure_plot_data(root: Path) -> None:
    """Small prediction and history CSVs where the copy has none, so the test needs no committed results."""
    if not any((root / "plots/predictions").glob("*.csv")):
        rows = [(actual, CLASSES[(i + (k % 3 == 0)) % 4])
                for i, actual in enumerate(CLASSES) for k in range(10)]
        write_rows(root / "plots/predictions/tiny.csv", ["actual", "predicted"], rows)
    if not any((root / "plots/history").glob("*.csv")):
        rows = [(e, round(1.4 / e, 4), round(1.3 / e + 0.1, 4), round(0.25 + 0.12 * e, 4))
                for e in range(1, 6)]
        write_rows(root / "plots/history/tiny.csv", ["epoch", "train_loss", "val_loss", "val_accuracy"], rows)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict]:
    """The repository's tracked and untracked-but-not-ignored files in a fresh git repository."""
    root = tmp_path_factory.mktemp("plots_project")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout.splitlines()
    for name in listed:
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    ensure_plot_data(root)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run(["git", "init", "-q"], root, env)
    return root, env


class PageParser(HTMLParser):
    """Script tags (attributes) of a page, and which ``<div id=...>`` hold rendered Vega marks."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.open_divs: list[str | None] = []
        self.marks: dict[str, int] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        elif tag == "div":
            self.open_divs.append(attrs.get("id"))
            if attrs.get("id"):
                self.marks.setdefault(attrs["id"], 0)
        elif tag in ("canvas", "svg") and "marks" in (attrs.get("class") or "").split():
            for div in self.open_divs:
                if div:
                    self.marks[div] += 1

    def handle_endtag(self, tag):
        if tag == "div" and self.open_divs:
            self.open_divs.pop()


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


def chromium(args: list[str], page: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not exe:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (Debian) or set CHROMIUM=/path "
                    "to a Chromium binary; this test renders `dvc plots show` headless to check it offline.")
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--window-size=1400,1600",
           *args, page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def test_template_is_complete_and_offline():
    html = TEMPLATE.read_text(encoding="utf-8")
    assert "{plot_divs}" in html  # dvc_render refuses a template without it
    assert "{scripts}" not in html  # dvc_render would put its CDN <script src=...> tags there
    for lib in ("vega", "vegaLite", "vegaEmbed"):
        assert f").{lib}=" in html, f"{lib} is not inlined"
    assert html.index("vegaEmbed") < html.index("{plot_divs}")
    assert all(not attrs.get("src") for attrs in parse(html).scripts)
    assert len(html.encode()) < 1_500_000
    assert (REPO / ".dvc/config").read_text().count("plots_template/offline.html") == 1


def test_dvc_plots_show_uses_no_remote_script(project):
    root, env = project
    run(["dvc", "plots", "show"], root, env)  # what a user runs: the template comes from .dvc/config
    html = (root / "dvc_plots/index.html").read_text(encoding="utf-8")
    page = parse(html)
    assert len(page.scripts) > 3, "no Vega plot was rendered into the page"
    assert [a["src"] for a in page.scripts if a.get("src")] == []
    assert "cdn.jsdelivr" not in html
    assert "vega-embed 6." in html  # the offline template, not DVC's default page


def test_chromium_draws_the_vega_plots_offline(project, tmp_path):
    root, env = project
    out = "dvc_plots_vega"  # only the Vega plots, so a blank page cannot pass on the PNG images
    run(["dvc", "plots", "show", "-o", out, *VEGA_TARGETS], root, env)
    page = root / out / "index.html"
    div_ids = [d for d in parse(page.read_text(encoding="utf-8")).marks]
    assert div_ids, "dvc wrote no Vega divs"

    dom = parse(chromium(["--dump-dom"], page, tmp_path).stdout)
    undrawn = [d for d in div_ids if not dom.marks.get(d)]
    assert not undrawn, f"Vega drew nothing (no canvas/svg marks) in {undrawn}"

    shot = tmp_path / "plots.png"
    chromium([f"--screenshot={shot}"], page, tmp_path)
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    non_white = (rgb.min(axis=2) < 240).mean()
    coloured = ((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum()  # heat-map cells and curves, not text
    assert non_white > 0.02, f"screenshot {shot} is nearly blank ({non_white:.2%} non-white)"
    assert coloured > 2000, f"screenshot {shot} has almost no coloured marks ({coloured} pixels)"
