"""The Gradescope bundle's own logic, without Gradescope or the network: setup.sh against stubs of
python and curl, the protections it records and requires, and where a submission's files are found."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from grader.course.spec import SpecError, load_assignment
from grader.distribute import gradescope_bundle
from grader.distribute.gradescope_bundle import (
    BUNDLE_CONFIG,
    PROTECTIONS_FILE,
    RUN_AUTOGRADER,
    SETUP_SH,
    build_bundle,
    probe_main,
    required_protections,
    run,
    sandbox_report,
    submission_folder,
)
from grader.records import JobResult

REPO = Path(__file__).resolve().parents[2]
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"

# A stand-in for every python the scripts call: it logs its arguments, makes "venvs" that are copies of
# itself, and answers the version check, the urllib probe, pip and the grader's probe as told.
FAKE_PYTHON = """#!/bin/bash
echo "python $*" >> "$STUB_LOG"
case "$1 $2" in
    "-m venv") /bin/mkdir -p "$3/bin" && /bin/cp "$0" "$3/bin/python"; exit 0 ;;
    "-m pip") [[ "$*" == *--upgrade* ]] && exit "${STUB_PIP_UPGRADE_EXIT:-0}"; exit 0 ;;
    "-m grader.distribute.gradescope_bundle") echo '{"available": ["landlock", "seccomp"]}'; exit 0 ;;
esac
if [ "$1" = "-c" ]; then
    [[ "$2" == *urlopen* ]] && exit "${STUB_URLOPEN_EXIT:-1}"
    exit 0
fi
exit 3
"""
FAKE_CURL = """#!/bin/bash
echo "curl $*" >> "$STUB_LOG"
exit "${STUB_CURL_EXIT:-0}"
"""


def run_setup(tmp_path: Path, *, curl: bool = True, **stub_env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source/setup.sh").write_text(SETUP_SH)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, text in (("python3.13", FAKE_PYTHON), *((("curl", FAKE_CURL),) if curl else ())):
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    os.symlink("/bin/cat", stubs / "cat")
    log = tmp_path / "log"
    log.touch()
    env = {"PATH": str(stubs), "GRADER_AUTOGRADER_ROOT": str(root), "STUB_LOG": str(log), **stub_env}
    done = subprocess.run(["/bin/bash", str(root / "source/setup.sh")], env=env, capture_output=True, text=True,
                          timeout=60)
    return done, log.read_text().splitlines()


def pip_installs(log: list[str]) -> list[str]:
    return [line for line in log if " -m pip " in line and " install " in line]


def test_setup_uses_the_pytorch_cpu_index_when_it_answers_and_pip_gives_up_quickly(tmp_path):
    done, log = run_setup(tmp_path, STUB_CURL_EXIT="0")
    assert done.returncode == 0, done.stderr
    assert [line for line in log if line.startswith("curl")] == [
        f"curl --silent --show-error --fail --max-time 10 --output /dev/null {TORCH_INDEX}/torch/"
    ]
    root = tmp_path / "autograder"
    pip = "python -m pip --disable-pip-version-check --timeout 20 --retries 1 install"
    assert pip_installs(log) == [
        f"{pip} --upgrade pip",
        f"{pip} --extra-index-url {TORCH_INDEX} -r requirements.txt",
        f"{pip} --no-deps .",
    ]
    assert f"python -m venv {root}/venv" in log
    assert json.loads((root / "source" / PROTECTIONS_FILE).read_text()) == {"available": ["landlock", "seccomp"]}


def test_setup_does_not_wait_for_an_index_that_does_not_answer(tmp_path):
    done, log = run_setup(tmp_path, STUB_CURL_EXIT="28", STUB_PIP_UPGRADE_EXIT="1")
    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("curl") for line in log) == 1  # asked once, never retried
    assert not any("--extra-index-url" in line for line in log)
    assert pip_installs(log)[1:] == [
        "python -m pip --disable-pip-version-check --timeout 20 --retries 1 install -r requirements.txt",
        "python -m pip --disable-pip-version-check --timeout 20 --retries 1 install --no-deps .",
    ]
    assert f"setup.sh: {TORCH_INDEX} does not answer; torch comes from PyPI" in done.stdout
    assert "setup.sh: pip was not upgraded; going on with the venv's own" in done.stdout


@pytest.mark.parametrize(("answers", "index_used"), [("0", True), ("1", False)])
def test_setup_asks_the_index_with_python_where_there_is_no_curl(tmp_path, answers, index_used):
    done, log = run_setup(tmp_path, curl=False, STUB_URLOPEN_EXIT=answers)
    assert done.returncode == 0, done.stderr
    probes = [line for line in log if "urlopen" in line]
    assert len(probes) == 1 and "timeout=10" in probes[0] and probes[0].endswith(f"{TORCH_INDEX}/torch/")
    assert any("--extra-index-url" in line for line in log) == index_used


def test_run_autograder_runs_the_bundles_grading_under_the_root_it_is_given(tmp_path):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "venv/bin").mkdir(parents=True)
    (root / "venv/bin/python").write_text('#!/bin/bash\necho "$PWD: python $*" >> "$STUB_LOG"\n')
    (root / "venv/bin/python").chmod(0o755)
    (root / "source/run_autograder").write_text(RUN_AUTOGRADER)
    env = {"PATH": "/usr/bin:/bin", "GRADER_AUTOGRADER_ROOT": str(root), "STUB_LOG": str(tmp_path / "log")}
    subprocess.run(["/bin/bash", str(root / "source/run_autograder")], env=env, check=True, timeout=60)
    assert (tmp_path / "log").read_text() == f"{root}/source: python -m grader.distribute.gradescope_bundle run\n"
    assert (root / "results").is_dir()


def test_the_bundle_records_the_protections_it_requires(tmp_path):
    archive = build_bundle(REPO, "hw7", tmp_path / "all")
    with zipfile.ZipFile(archive) as zf:
        assert json.loads(zf.read(BUNDLE_CONFIG)) == {"assignment": "hw7", "require": None}
        assert {"setup.sh", "run_autograder", "pyproject.toml", "requirements.txt"} <= set(zf.namelist())
    build_bundle(REPO, "hw7", tmp_path / "chosen", require=["seccomp", "landlock"])
    source = tmp_path / "chosen/autograder"
    assert json.loads((source / BUNDLE_CONFIG).read_text())["require"] == ["landlock", "seccomp"]
    with pytest.raises(SpecError, match="unknown sandbox protection 'landlok'"):
        build_bundle(REPO, "hw7", tmp_path / "typo", require=["landlok"])


def test_required_protections_come_from_the_instructor_else_from_setup(tmp_path):
    assert required_protections(tmp_path) == ((), f"none: {PROTECTIONS_FILE} is missing (setup.sh did not record "
                                                   "the image's protections)")
    (tmp_path / PROTECTIONS_FILE).write_text(json.dumps({"available": ["landlock", "seccomp"]}))
    assert required_protections(tmp_path) == (("landlock", "seccomp"), f"every one available at set-up ({PROTECTIONS_FILE})")
    (tmp_path / BUNDLE_CONFIG).write_text(json.dumps({"assignment": "hw7", "require": ["capabilities"]}))
    assert required_protections(tmp_path) == (("capabilities",), f"chosen by the instructor ({BUNDLE_CONFIG})")


def test_the_probe_fails_setup_when_a_protection_the_instructor_chose_is_unavailable(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gradescope_bundle, "probe", lambda zygote=None: {
        "capabilities": "all dropped", "landlock": None, "seccomp": "39 rules", "disk_quota": None})
    (tmp_path / BUNDLE_CONFIG).write_text(json.dumps({"assignment": "hw7", "require": None}))
    assert probe_main(tmp_path) == 0
    recorded = json.loads(capsys.readouterr().out)
    assert recorded["available"] == ["capabilities", "seccomp"] and recorded["off"] == ["landlock", "disk_quota"]
    (tmp_path / BUNDLE_CONFIG).write_text(json.dumps({"assignment": "hw7", "require": ["landlock", "seccomp"]}))
    assert probe_main(tmp_path) == 1
    assert "requires the sandbox protection(s) landlock, which this image does not apply" in capsys.readouterr().err


def job(status: str) -> JobResult:
    return JobResult(student="submission", assignment="hw7", problem="bn_fold", status=status, score=0, max_score=10)  # type: ignore[arg-type]


def test_protections_off_are_said_and_a_refusal_is_explained():
    now = {"capabilities": "all dropped", "landlock": None, "seccomp": "39 rules", "disk_quota": "64 MiB tmpfs"}
    off, refused, lines = sandbox_report(("landlock", "seccomp"), now, [job("error")], ["sandbox protection off: disk_quota"])
    assert off == ["landlock", "disk_quota"] and refused == ["landlock"]
    assert lines == [
        "The grader did not run your code: the sandbox protection(s) landlock, which this course requires, are off "
        "on this machine. It is not your fault; the score is not final and your instructor will regrade.",
        "Sandbox protections off on this machine: landlock, disk_quota.",
    ]
    assert sandbox_report((), now, [job("graded")], []) == (["landlock"], [], [
        "Sandbox protections off on this machine: landlock."])
    assert sandbox_report(("landlock",), None, [job("graded")], []) == ([], [], [])


def test_a_submission_with_a_kit_copy_and_a_notebook_in_a_sub_folder(tmp_path):
    assignment = load_assignment(REPO, "hw7")
    (tmp_path / "kit/reference/hw7").mkdir(parents=True)
    (tmp_path / "kit/problems/hw7").mkdir(parents=True)
    for p in assignment.problems:
        (tmp_path / "kit/reference/hw7" / p.module_file).write_text(
            f'"""Not shipped: references never leave the instructor. The kit checks {p.id}."""\n')
    (tmp_path / "work/notebooks").mkdir(parents=True)
    (tmp_path / "work/notebooks/homework.ipynb").write_text("{}")
    found = submission_folder(tmp_path, assignment)
    assert found.folder == tmp_path / "work/notebooks" and found.others == ()
    assert found.notes == ("graded the files in work/notebooks/ (none at the top of the submission)",)


def test_a_grader_error_before_grading_still_writes_results_json(tmp_path, capsys):
    results = tmp_path / "results/results.json"
    assert run("hw99", tmp_path, results, root=REPO) == 1
    document = json.loads(results.read_text())
    assert document["score"] == 0.0 and document["tests"] == []
    assert document["output"].startswith("A grader error stopped the grading (SpecError: ")
    assert document["extra_data"]["grader"]["error"].startswith("SpecError: ")
    assert json.loads(capsys.readouterr().out)["score"] == 0.0
