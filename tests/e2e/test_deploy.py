"""Course deployment, tried end to end from a plain (non-editable) install of a wheel of the grader.

The CI templates (ci-templates/github/*.yml) run step by step from their YAML, and tox.ini's
environments command by command, in temporary repositories; the staff workflow's kit and Gradescope
bundle are installed into fresh virtual environments and used as a student and Gradescope would.

Nothing is downloaded: a "fresh venv" is `python -m venv --without-pip` with a `.pth` file listing
this interpreter's site-packages (torch is shared), and the grader is installed into it with this
interpreter's pip. The templates' `python -m pip install ...` steps reach a `python` stand-in first
on PATH (as actions/setup-python puts its python first): it checks that a `-r requirements.txt` file
lists requirements that the shared packages satisfy (an empty one fails), ignores index options, and
installs what is named (`.`, a kit folder, a wheel) without dependencies.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, make_course

pytestmark = pytest.mark.slow

TEMPLATES = REPO / "ci-templates"
STUDENTS = ["alice_correct", "carol_no_max_shift"]
TIMEOUT = 900


# -- fresh virtual environments that share this interpreter's packages --------------------------------


def fresh_venv(path: Path) -> Path:
    """A venv without pip whose sys.path ends with this interpreter's site-packages; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "_shared_site_packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def pip_install(python: Path, *targets: str | Path) -> None:
    """Install `targets` into the venv of `python`, without dependencies and without the network."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--force-reinstall",  # a grader among the shared packages (CI's own) must not count as installed
         "--no-build-isolation", "--no-index", *map(str, targets)],
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def installed_grader(python: Path) -> Path:
    """Where the venv of `python` imports the grader from (from outside any course folder)."""
    where = subprocess.run([str(python), "-P", "-c", "import grader; print(grader.__file__)"], cwd="/",
                           capture_output=True, text=True, check=True).stdout.strip()
    return Path(where).parent


def assert_plain_install(python: Path) -> None:
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(python.parent.parent),
                                                       "platbase": str(python.parent.parent)}))
    assert installed_grader(python) == purelib / "grader"  # the venv's own copy: not the checkout, not editable


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "GRADER_SANDBOX_DISABLE")}
    return {**env, **extra}


# -- the `python` of a CI job, whose pip installs without downloading -----------------------------------

PYTHON_STAND_IN = '''#!{real}
"""`python` for a simulated CI job: the venv's python, except that `-m pip install` installs offline."""
import os, subprocess, sys
from importlib import metadata
from packaging.requirements import Requirement

VENV_PYTHON = {venv!r}
LOG = {log!r}
args = sys.argv[1:]
if args[:2] != ["-m", "pip"] or "install" not in args:
    os.execv(VENV_PYTHON, [VENV_PYTHON, *args])
with open(LOG, "a") as log:
    log.write(" ".join(args) + "\\n")
rest = args[args.index("install") + 1:]
targets, requirement_files = [], []
while rest:
    arg = rest.pop(0)
    if arg in ("--extra-index-url", "--index-url", "-i"):
        rest.pop(0)
    elif arg in ("-r", "--requirement"):
        requirement_files.append(rest.pop(0))
    elif arg in ("--upgrade", "-U", "--quiet", "-q"):
        pass
    elif arg.startswith("-"):
        sys.exit(f"python stand-in: unsupported pip option {{arg}}")
    elif arg != "pip":
        targets.append(arg)
for name in requirement_files:
    lines = [line.split("#")[0].strip() for line in open(name)]
    requirements = [Requirement(line) for line in lines if line]
    if not requirements:
        sys.exit(f"python stand-in: {{name}} lists no requirement")
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            sys.exit(f"python stand-in: {{name}}: {{req}} is not installed (it would be downloaded)")
        if not req.specifier.contains(version, prereleases=True):
            sys.exit(f"python stand-in: {{name}}: {{req}} does not accept the installed {{version}}")
if targets:
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "--python", VENV_PYTHON, "install", "--quiet",
                              "--no-deps", "--force-reinstall", "--no-build-isolation", "--no-index", *targets]))
'''


@dataclass
class Job:
    """A simulated CI job: a fresh venv, and a folder with the `python` stand-in to put first on PATH."""

    venv: Path
    stand_in: Path
    log: Path

    @classmethod
    def make(cls, folder: Path) -> Job:
        python = fresh_venv(folder / "venv")
        stand_in = folder / "stand-in"
        stand_in.mkdir()
        log = folder / "pip-installs.log"
        log.touch()
        script = stand_in / "python"
        script.write_text(PYTHON_STAND_IN.format(real=sys.executable, venv=str(python), log=str(log)))
        script.chmod(0o755)
        return cls(python.parent.parent, stand_in, log)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self, **extra: str) -> dict[str, str]:
        base = clean_env()
        path = f"{self.stand_in}{os.pathsep}{self.venv / 'bin'}{os.pathsep}{base['PATH']}"
        return {**base, "PATH": path, **extra}


# -- GitHub Actions workflows, step by step ------------------------------------------------------------


@dataclass
class Step:
    name: str
    done: subprocess.CompletedProcess[str]


@dataclass
class Run:
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.done.returncode == 0 for s in self.steps)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def log(self) -> str:
        return "\n".join(f"## {s.name} (exit {s.done.returncode})\n{s.done.stdout}{s.done.stderr}" for s in self.steps)


def expression(text: str, env: dict[str, str]) -> str:
    """The value of one `${{ ... }}` expression of the kinds the templates use."""
    text = text.strip()
    if match := re.fullmatch(r"env\.(\w+)", text):
        return env[match.group(1)]
    raise AssertionError(f"the workflow uses an expression this simulation does not know: {text}")


def condition(text: str, repo: Path) -> bool:
    match = re.fullmatch(r"hashFiles\('([^']+)'\) != ''", text.strip())
    assert match, f"the workflow uses a condition this simulation does not know: {text}"
    # Python's glob matches only folders with a trailing `**`; GitHub's hashFiles hashes the files below them.
    return any(f.is_file() for p in repo.glob(match.group(1)) for f in (p, *p.rglob("*")))


def run_workflow(workflow: Path, repo: Path, job: Job, **overrides: str) -> Run:
    """Each job's `run:` steps in order, as GitHub runs them (bash -eo pipefail), in `repo`; stops at a failure.

    actions/checkout is the repository already in place, actions/setup-python is the job's venv with
    the `python` stand-in first on PATH, and upload-artifact steps are left to the test's assertions.
    """
    document = yaml.safe_load(workflow.read_text())
    env = job.env(CI="true", GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(repo),
                  **{k: str(v) for k, v in document.get("env", {}).items()})
    env.update(overrides)
    run = Run()
    for job_spec in document["jobs"].values():
        env.update({k: str(v) for k, v in job_spec.get("env", {}).items()})
        for number, spec in enumerate(job_spec["steps"]):
            uses = spec.get("uses", "")
            if not uses.startswith(("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@")):
                assert "run" in spec, f"{workflow.name}: step {number} uses {uses!r}, which this simulation lacks"
            if "run" not in spec or ("if" in spec and not condition(spec["if"], repo)):
                continue
            script = re.sub(r"\$\{\{(.*?)\}\}", lambda m: expression(m.group(1), env), spec["run"])
            cwd = repo / re.sub(r"\$\{\{(.*?)\}\}", lambda m: expression(m.group(1), env),
                                spec.get("working-directory", "."))
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                                  env=env, capture_output=True, text=True, timeout=TIMEOUT)
            run.steps.append(Step(spec.get("name", script.strip()), done))
            if done.returncode != 0:
                return run
    return run


# -- tox environments, command by command ---------------------------------------------------------------


def run_tox_env(tox_ini: Path, name: str, job: Job, posargs: list[str], **environ: str) -> subprocess.CompletedProcess[str]:
    """`tox -e NAME -- POSARGS` without tox: the env's deps through the job's pip, then its commands in toxinidir."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(tox_ini)
    section = config[f"testenv:{name}"]
    base = config["testenv"]

    def substitute(text: str) -> str:
        text = re.sub(r"\{env:(\w+):([^}]*)\}", lambda m: environ.get(m.group(1), m.group(2)), text)
        text = re.sub(r"\{posargs:([^}]*)\}", lambda m: " ".join(map(shlex.quote, posargs)) or m.group(1), text)
        return text.replace("{posargs}", " ".join(map(shlex.quote, posargs)))

    passenv = base.get("passenv", "").replace(",", " ").split()
    env = {k: v for k, v in {**job.env(), **environ}.items() if k == "PATH" or any(fnmatch(k, p) for p in passenv)}
    for line in base.get("setenv", "").strip().splitlines():
        key, _, value = line.partition("=")
        env[key.strip()] = substitute(value.strip())
    env["VIRTUAL_ENV"] = str(job.venv)
    deps = substitute(section.get("deps", base.get("deps", ""))).split()
    install = subprocess.run([str(job.stand_in / "python"), "-m", "pip", "install", *deps], cwd=tox_ini.parent,
                             env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if install.returncode != 0:
        return install
    output = ""
    for command in substitute(section["commands"]).strip().splitlines():
        done = subprocess.run(shlex.split(command), cwd=tox_ini.parent, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)
        output += done.stdout + done.stderr
        if done.returncode != 0:
            break
    return subprocess.CompletedProcess(command, done.returncode, output, "")


# -- what the tests compare -----------------------------------------------------------------------------


def check_verdict(output: str) -> tuple[dict[str, tuple[float, float]], set[str]]:
    """`grader check`'s table (problem: score, out of) and the tests it says failed (`problem/test`)."""
    table = {m.group(1): (float(m.group(2)), float(m.group(3)))
             for m in re.finditer(r"│ (\w+)\s+│\s+([\d.]+) / ([\d.]+) │", output)}
    return table, set(re.findall(r"─ (\w+/\w+): failed ─", output))


def kit_verdict(results_json: Path, student: str, kit: Path) -> tuple[dict[str, tuple[float, float]], set[str]]:
    """The instructor's verdict on the tests the kit holds (its public tests), in `check_verdict`'s form."""
    doc = json.loads(results_json.read_text())
    row = next(s for s in doc["students"] if s["id"] == student)
    table: dict[str, tuple[float, float]] = {}
    failed = set()
    for p in row["problems"]:
        in_kit = set(re.findall(r"^\s*def (test_\w+)\(", (kit / f"problems/hw7/{p['id']}/test_{p['id']}.py").read_text(),
                                re.M))
        tests = [t for t in p["tests"] if t["name"] in in_kit]
        assert len(tests) == len(in_kit), (p["id"], in_kit)
        table[p["id"]] = (sum(t["points"] for t in tests if t["outcome"] == "passed"), sum(t["max_points"] for t in tests))
        failed.update(f"{p['id']}/{t['name']}" for t in tests if t["outcome"] != "passed")
    table["total"] = (sum(v[0] for v in table.values()), sum(v[1] for v in table.values()))
    return table, failed


def bank_checked(output: str) -> bool:
    """`grader validate` passed: more than two checks of hw7 (references, mutants, alternatives), none failed."""
    lines = output.splitlines()
    checked = [line for line in lines[:-1] if line.startswith("ok   hw7/")]
    return bool(re.fullmatch(rf"{len(checked)} passed, 0 failed", lines[-1])) and len(checked) == len(lines) - 1 > 2


def instructor_scores(results_json: Path) -> dict[str, dict[str, float]]:
    doc = json.loads(results_json.read_text())
    return {s["id"]: {p["id"]: p["score"] for p in s["problems"]} for s in doc["students"]}


def instructor_failures(results_json: Path, student: str) -> set[str]:
    doc = json.loads(results_json.read_text())
    row = next(s for s in doc["students"] if s["id"] == student)
    return {f"{p['id']}: {t['name']}" for p in row["problems"] for t in p["tests"] if t["outcome"] != "passed"}


def copy_student(student: str, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for f in (REPO / "submissions/hw7" / student).glob("*.py"):
        if f.stem in ("true_softmax", "bn_fold"):
            shutil.copy(f, target)
    return target


# -- the staff's repository through its workflow: the kit and the bundle everything else uses ---------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                           "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("grader-*.whl")
    return built


@dataclass
class Staff:
    repo: Path
    job: Job
    run: Run


@pytest.fixture(scope="module")
def staff(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Staff:
    base = tmp_path_factory.mktemp("staff")
    repo = make_course(base / "course", STUDENTS)
    job = Job.make(base)
    # The course repository does not hold the grader: GRADER names a requirement (here the wheel).
    run = run_workflow(TEMPLATES / "github/staff-validate.yml", repo, job, GRADER=str(wheel))
    return Staff(repo, job, run)


def test_the_staff_workflow_validates_and_builds_kits_and_bundles_from_a_plain_install(staff, wheel):
    assert staff.run.ok, staff.run.log()
    assert [s.name for s in staff.run.steps] == [
        "Install the grader", "The bank checks itself", "Student kits and Gradescope bundles", "Grade the demo class"]
    assert_plain_install(staff.job.python)
    assert staff.job.log.read_text().splitlines() == [
        f"-m pip install --extra-index-url https://download.pytorch.org/whl/cpu {wheel}"]
    assert bank_checked(staff.run.step("The bank checks itself").done.stdout)
    kit = staff.repo / "dist/kits/hw7"
    requirements = (kit / "requirements.txt").read_text()
    assert re.search(r"^torch[<>=]", requirements, re.M) and re.search(r"^hypothesis[<>=]", requirements, re.M)
    assert 'name = "grader"' in (kit / "pyproject.toml").read_text()
    with zipfile.ZipFile(staff.repo / "dist/gradescope/hw7/autograder.zip") as zf:
        names = set(zf.namelist())
        assert "torch" in zf.read("requirements.txt").decode()
    assert {"pyproject.toml", "requirements.txt", "setup.sh", "run_autograder", "grader-bundle.json",
            "grader/cli.py", "reference/hw7/bn_fold.py"} <= names
    assert instructor_scores(staff.repo / "reports/hw7/results.json") == {
        "alice_correct": {"true_softmax": 10, "bn_fold": 10}, "carol_no_max_shift": {"true_softmax": 6, "bn_fold": 10}}
    assert (staff.repo / "reports/hw7/junit.xml").is_file()


def test_the_kit_from_a_plain_install_installs_and_checks_as_the_instructor_grades(staff, tmp_path):
    kit = shutil.copytree(staff.repo / "dist/kits/hw7", tmp_path / "kit")
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, kit)
    assert_plain_install(python)
    results = staff.repo / "reports/hw7/results.json"
    for student, status in (("alice_correct", 0), ("carol_no_max_shift", 1)):
        done = subprocess.run([str(python.parent / "grader"), "check", "hw7", str(REPO / "submissions/hw7" / student),
                               "--jobs", "2"], cwd=kit, env=clean_env(), capture_output=True, text=True, timeout=TIMEOUT)
        assert done.returncode == status, done.stdout + done.stderr
        assert check_verdict(done.stdout) == kit_verdict(results, student, kit)


def unpack_bundle(archive: Path, root: Path) -> Path:
    """Gradescope's /autograder with the bundle in source/ (executable bits kept) and its venv."""
    source = root / "source"
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, source))
            path.chmod(info.external_attr >> 16 & 0o777 or 0o644)
    python = fresh_venv(root / "venv")
    pip_install(python, source)
    assert_plain_install(python)
    # setup.sh's last step: the protections this image applies, which every job will require.
    probe = subprocess.run([str(python), "-m", "grader.distribute.gradescope_bundle", "probe"], cwd=source, env=clean_env(),
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    (source / "protections.json").write_text(probe.stdout)
    return source


def run_autograder(root: Path, **env: str) -> dict:
    done = subprocess.run(["bash", str(root / "source/run_autograder")], env=clean_env(GRADER_AUTOGRADER_ROOT=str(root), **env),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results/results.json").read_text())


def test_the_bundle_from_a_plain_install_grades_a_submission_beside_a_kit_copy(staff, tmp_path):
    root = tmp_path / "autograder"
    source = unpack_bundle(staff.repo / "dist/gradescope/hw7/autograder.zip", root)
    available = json.loads((source / "protections.json").read_text())["available"]
    # A student's repository as uploaded: their files in a sub-folder, beside a copy of the kit (whose
    # reference/ holds stand-ins named like the student's modules).
    shutil.copytree(staff.repo / "dist/kits/hw7", root / "submission/kit")
    copy_student("carol_no_max_shift", root / "submission/solutions/hw7")
    results = staff.repo / "reports/hw7/results.json"

    document = run_autograder(root)
    assert document["score"] == sum(instructor_scores(results)["carol_no_max_shift"].values()) == 16
    failed = {t["name"] for t in document["tests"] if t["status"] == "failed"}
    assert failed == instructor_failures(results, "carol_no_max_shift")
    assert "Your files: graded the files in solutions/hw7/ (none at the top of the submission)" in document["output"]
    extra = document["extra_data"]["grader"]
    assert extra["required_protections"] == available and extra["protections_off"] == []
    assert extra["submission_folder"] == "solutions/hw7"

    if "landlock" not in available:
        pytest.skip("Landlock is not available on this machine: its loss cannot be simulated")
    refused = run_autograder(root, GRADER_SANDBOX_DISABLE="landlock")
    assert refused["score"] == 0
    assert ("The grader did not run your code: the sandbox protection(s) landlock, which this course requires, are "
            "off on this machine.") in refused["output"]
    assert "Sandbox protections off on this machine: landlock." in refused["output"]
    extra = refused["extra_data"]["grader"]
    assert extra["protections_off"] == extra["refused_for"] == ["landlock"]
    assert all("the required protection 'landlock' is switched off" in e for e in extra["errors"]) and extra["errors"]


def student_repository(staff: Staff, folder: Path, student: str) -> Path:
    """A student's repository: the kit in kit/ and the student's files at the top (SUBMISSION: .)."""
    shutil.copytree(staff.repo / "dist/kits/hw7", folder / "kit")
    copy_student(student, folder)
    return folder


@pytest.mark.parametrize(("student", "passes"), [("alice_correct", True), ("carol_no_max_shift", False)])
def test_the_student_workflow_passes_a_correct_student_and_fails_a_wrong_one(staff, tmp_path, student, passes):
    repo = student_repository(staff, tmp_path / "repo", student)
    job = Job.make(tmp_path)
    run = run_workflow(TEMPLATES / "github/student-check.yml", repo, job)
    assert [s.name for s in run.steps] == ["Install the grader from the kit", "Check the submission with the public tests"]
    assert run.steps[0].done.returncode == 0, run.log()
    assert_plain_install(job.python)
    assert run.ok == passes, run.log()
    assert check_verdict(run.steps[1].done.stdout) == kit_verdict(staff.repo / "reports/hw7/results.json", student,
                                                                  repo / "kit")


def test_the_python_stand_in_refuses_an_empty_requirements_file(tmp_path):
    (tmp_path / "requirements.txt").write_text("# The grader's requirements\n")
    job = Job.make(tmp_path)
    done = subprocess.run(["python", "-m", "pip", "install", "-r", "requirements.txt"], cwd=tmp_path, env=job.env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 1 and "requirements.txt lists no requirement" in done.stderr


def test_tox_environments_for_staff_and_students(staff, tmp_path, wheel):
    course = make_course(tmp_path / "course", [])
    shutil.copy(TEMPLATES / "tox.ini", course / "tox.ini")
    # One problem: the staff workflow's fixture validates the whole course; here the env must pass its
    # arguments on (`tox -e validate -- hw7/true_softmax`), as an instructor checks one problem.
    validate = run_tox_env(course / "tox.ini", "validate", Job.make(tmp_path / "tox-validate"), ["hw7/true_softmax"],
                           GRADER=str(wheel))
    assert validate.returncode == 0 and bank_checked(validate.stdout), validate.stdout
    assert "hw7/bn_fold" not in validate.stdout, validate.stdout
    kit = run_tox_env(course / "tox.ini", "kit", Job.make(tmp_path / "tox-kit"), ["hw7"], GRADER=str(wheel))
    assert kit.returncode == 0 and "hw7: Gradescope autograder" in kit.stdout, kit.stdout
    assert (course / "dist/kits/hw7/pyproject.toml").is_file()
    assert (course / "dist/gradescope/hw7/autograder.zip").is_file()
    # A student: tox.ini next to the kit, whose "." installs the kit's own grader.
    kit = shutil.copytree(staff.repo / "dist/kits/hw7", tmp_path / "kit")
    shutil.copy(TEMPLATES / "tox.ini", kit / "tox.ini")
    job = Job.make(tmp_path / "student")
    for student, status in (("alice_correct", 0), ("carol_no_max_shift", 1)):
        files = copy_student(student, tmp_path / student)
        done = run_tox_env(kit / "tox.ini", "check", job, [str(files)], ASSIGNMENT="hw7")
        assert done.returncode == status, done.stdout
        assert check_verdict(done.stdout) == kit_verdict(staff.repo / "reports/hw7/results.json", student, kit)
    assert_plain_install(job.python)


def test_the_templates_name_only_what_the_simulation_runs():
    """A new step kind (another action, an expression) must be taught to the simulation, not skipped silently."""
    for workflow in sorted((TEMPLATES / "github").glob("*.yml")):
        document = yaml.safe_load(workflow.read_text())
        for job_spec in document["jobs"].values():
            for spec in job_spec["steps"]:
                assert "run" in spec or spec["uses"].split("@")[0] in (
                    "actions/checkout", "actions/setup-python", "actions/upload-artifact"), (workflow, spec)
                for text in (spec.get("run", ""), spec.get("working-directory", "")):
                    for expr in re.findall(r"\$\{\{(.*?)\}\}", text):
                        assert re.fullmatch(r"\s*env\.\w+\s*", expr), (workflow, expr)
