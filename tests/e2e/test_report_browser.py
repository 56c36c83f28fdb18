"""The demo class report in a real browser (headless Chromium): what a person sees, and a screenshot to look at."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium; .ci/run does)"
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)  # a new profile for every run
    return subprocess.run(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", *args,
        ],
        capture_output=True, text=True, timeout=180, check=False,
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser-artifacts")


def test_class_report_renders_in_chromium(graded_course, artifacts):
    root, result = graded_course
    assert result.returncode == 0, result.stderr
    index = root / "reports/hw7/index.html"

    shot = artifacts / "class-report.png"
    taken = chromium(artifacts, f"--screenshot={shot}", "--window-size=1280,2000", index.as_uri())
    assert shot.is_file(), taken.stderr[-2000:]
    shutil.copy(shot, root / "reports/hw7/class-report.png")
    assert png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a blank or unstyled page compresses to far less

    dom = chromium(artifacts, "--dump-dom", index.as_uri()).stdout
    (artifacts / "class-report.dom.html").write_text(dom)
    # The histogram, drawn: one bar per whole point from 0 to 20, with the counts above the bars.
    histogram = re.search(r'<svg class="chart" id="histogram".*?</svg>', dom, re.DOTALL)
    assert histogram is not None
    assert len(re.findall(r'<rect class="bar"', histogram.group())) == 21
    assert "<title id=\"hist-t\">Score distribution: students per total score</title>" in histogram.group()
    # Common mistakes: the most common group first, with links to each student's failure.
    mistakes = re.search(r'<section id="mistakes".*?</section>', dom, re.DOTALL)
    assert mistakes is not None
    assert "3 students fail <code>test_fold_conv_bn_equals_conv_then_bn</code> in bn_fold" in mistakes.group()
    assert 'href="students/dave_forgot_eps.html#bn_fold--test_fold_conv_bn_equals_conv_then_bn"' in mistakes.group()
    # Failures no one else shares are listed apart, compactly: erin's and heidi's bn_fold failed differently.
    assert "students whose bn_fold module did not run" not in mistakes.group()
    once = re.search(r'<details id="mistakes-once">.*?</details>', mistakes.group(), re.DOTALL)
    assert once is not None
    for student in ("erin_syntax_error", "heidi_raises_at_import"):
        assert f'<a href="students/{student}.html#bn_fold">{student}</a>' in once.group()
    # The student table, one row per student, made sortable by the page's script (CSP allowed it to run).
    table = re.search(r'<table class="sortable" id="student-table">.*?</table>', dom, re.DOTALL)
    assert table is not None
    assert len(re.findall(r'<tr><th scope="row"', table.group())) == 10
    assert len(re.findall(r"<th scope=\"col\"[^>]*><button type=\"button\">", table.group())) == 4
    assert "Problem bank hash" in dom and "Time taken" in dom


def test_student_page_renders_in_chromium(graded_course, artifacts):
    root, _ = graded_course
    page = root / "reports/hw7/students/dave_forgot_eps.html"
    shot = artifacts / "dave_forgot_eps.png"
    chromium(artifacts, f"--screenshot={shot}", "--window-size=390,2000", page.as_uri())  # a phone
    assert shot.is_file() and png_size(shot) == (390, 2000)
    shutil.copy(shot, root / "reports/hw7/student-page-phone.png")
    dom = chromium(artifacts, "--dump-dom", page.as_uri()).stdout
    assert "<h1>dave_forgot_eps: 12 / 20</h1>" in dom
    failure = re.search(r'<details id="bn_fold--test_fold_conv_bn_equals_conv_then_bn" open="">.*?</details>', dom, re.DOTALL)
    assert failure is not None
    assert "What went wrong:" in failure.group() and "Smallest failing input:" in failure.group()
    assert "@reproduce_failure(" in failure.group()
    assert '<div class="statement"><h1>Folding BatchNorm into the layer before it</h1>' in dom
