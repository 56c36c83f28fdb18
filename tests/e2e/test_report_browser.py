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


def test_the_student_code_view_marks_and_links_the_failing_line(graded_course, artifacts):
    root, _ = graded_course
    page = root / "reports/hw7/students/erin_syntax_error.html"
    source = page.read_text()
    assert "<script" not in source  # the student page runs no script: its CSP allows none
    dom = chromium(artifacts, "--dump-dom", page.as_uri()).stdout
    (artifacts / "erin_syntax_error.dom.html").write_text(dom)
    files = re.search(r'<section id="your-files".*?</section>', dom, re.DOTALL)
    assert files is not None
    assert '<h3 id="code-bn_fold.py">bn_fold.py <span class="muted">(43 lines; marked: 24)</span></h3>' in files.group()
    # Highlighted by pygments, line 24 (the syntax error) marked, every line anchored.
    marked = re.search(r'<a id="code-bn_fold.py-24" name="code-bn_fold.py-24"></a><span class="hll">.*?</span>\n', files.group(), re.DOTALL)
    assert marked is not None and "fold_linear_bn" in marked.group()
    assert '<span class="k">def</span>' in files.group()
    # Each failure links to the line its traceback points at.
    failure = re.search(r'<details id="bn_fold--test_fold_conv_bn_equals_conv_then_bn" open="">.*?</details>', dom, re.DOTALL)
    assert failure is not None
    assert '<p class="code-links">In your code: <a href="#code-bn_fold.py-24">bn_fold.py, line 24</a></p>' in failure.group()
    shot = artifacts / "erin-code.png"
    chromium(artifacts, f"--screenshot={shot}", "--window-size=1280,7000", page.as_uri())
    assert shot.is_file() and png_size(shot) == (1280, 7000)


def test_the_class_page_shows_what_changed_and_the_students_first(graded_course, artifacts, tmp_path):
    from .conftest import copy_of, run_cli

    root = copy_of(graded_course, tmp_path)
    result = run_cli("--root", str(root), "adjust", "hw7", "dave_forgot_eps", "bn_fold", "+3", "--reason", "tolerance <too> tight",
                     "--by", "prof")
    assert result.returncode == 0, result.stderr
    index = root / "reports/hw7/index.html"
    dom = chromium(artifacts, "--dump-dom", index.as_uri()).stdout
    (artifacts / "class-report-adjusted.dom.html").write_text(dom)
    sections = re.findall(r'<section (?:class="[^"]*" )?id="([^"]+)"', dom)
    assert sections[sections.index("students"):] == ["students", "distribution", "problems", "tests", "mistakes", "changes",
                                                     "similarity", "run"]
    exports = re.search(r'<ul class="exports" id="exports".*?</ul>', dom, re.DOTALL)
    assert exports is not None and '<a href="grades.csv">grades.csv</a>' in exports.group()
    assert '<a href="results.json">results.json</a>' in exports.group()
    changes = re.search(r'<section id="changes".*?</section>', dom, re.DOTALL)
    assert changes is not None
    row = re.search(r'<a href="students/dave_forgot_eps.html">dave_forgot_eps</a></th>\s*<td>bn_fold</td>\s*'
                    r'<td class="num">2</td>\s*<td class="num changed-up">5</td>\s*<td>(.*?)</td>', changes.group(), re.DOTALL)
    assert row is not None, changes.group()
    assert row.group(1) == "adjustment +3 added (tolerance &lt;too&gt; tight)"
    # The student table gained the tests, adjustments and late columns, still sortable by the page's script.
    table = re.search(r'<table class="sortable" id="student-table">.*?</table>', dom, re.DOTALL)
    assert table is not None
    assert len(re.findall(r"<th scope=\"col\"[^>]*><button type=\"button\">", table.group())) == 7
    shot = artifacts / "class-report-adjusted.png"
    chromium(artifacts, f"--screenshot={shot}", "--window-size=1280,2400", index.as_uri())
    assert shot.is_file()


@pytest.fixture(scope="module")
def graded_training_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hw5's training problem alone, graded for a student who trains right and one who never zeroes gradients."""
    from .conftest import REPO, run_cli

    root = tmp_path_factory.mktemp("training-course")
    shutil.copytree(REPO / "problems/hw5/label_memorization", root / "problems/hw5/label_memorization",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "reference/hw5").mkdir(parents=True)
    shutil.copy(REPO / "reference/hw5/label_memorization.py", root / "reference/hw5")
    (root / "problems/hw5/assignment.toml").write_text('title = "Homework 5"\nproblems = ["label_memorization"]\n')
    for student in ("alice_correct", "heidi_forgot_loss_derivative"):
        (root / "submissions/hw5" / student).mkdir(parents=True)
        shutil.copy(REPO / "submissions/hw5" / student / "label_memorization.py", root / "submissions/hw5" / student)
    result = run_cli("--root", str(root), "grade", "hw5", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    return root / "reports/hw5"


def test_the_student_page_draws_the_learning_curve_beside_the_references(graded_training_course, artifacts):
    page = graded_training_course / "students/heidi_forgot_loss_derivative.html"
    shot = artifacts / "learning-curve.png"
    chromium(artifacts, f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri())
    assert shot.is_file() and png_size(shot) == (1280, 1600)
    dom = chromium(artifacts, "--dump-dom", page.as_uri()).stdout
    figure = re.search(r'<figure class="learning-curve" id="label_memorization--test_memorizes_random_labels--curve-1">'
                       r".*?</figure>", dom, re.DOTALL)
    assert figure is not None
    curve = figure.group()
    student = re.search(r'<polyline class="student" points="([^"]*)"', curve)
    reference = re.search(r'<polyline class="reference" points="([^"]*)"', curve)
    assert student is not None and reference is not None
    assert len(student.group(1).split()) == 15 and len(reference.group(1).split()) == 15  # one point per epoch
    assert len(re.findall(r'<circle class="student"', curve)) == 15
    assert "the reference's: 1.00 after epoch 15" in curve


def test_the_class_page_shows_the_distribution_of_final_accuracies(graded_training_course, artifacts):
    index = graded_training_course / "index.html"
    dom = chromium(artifacts, "--dump-dom", index.as_uri()).stdout
    finals = re.search(r'<figure class="final-values".*?</figure>', dom, re.DOTALL)
    assert finals is not None
    assert len(re.findall(r'<rect class="bar"', finals.group())) == 10
    assert '<line class="reference"' in finals.group()
    assert "training accuracy on random labels at the end of training, 2 students; the reference reaches 1.00" in finals.group()
