"""The grader as an installable folder, for kits and Gradescope bundles, from any kind of install.

A kit or a bundle carries the grader's own code and must install on a fresh machine. Its
`pyproject.toml` and `requirements.txt` are written from the installed distribution's metadata
(name, version, requirements, entry points) and from the package's files, never copied from a
checkout: after a plain `pip install .` there is no checkout to copy from.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

import grader

PACKAGE = Path(grader.__file__).resolve().parent
_DISTRIBUTION = "grader"


def requirements() -> list[str]:
    """The grader's runtime requirements, as its installed metadata states them (extras left out)."""
    try:
        required = metadata.requires(_DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # run from a bare checkout: read its pyproject.toml
        import tomllib

        pyproject = PACKAGE.parent / "pyproject.toml"
        return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])
    return [r for r in required if "extra ==" not in r]


def _version() -> str:
    try:
        return metadata.version(_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return grader.__version__


def _entry_points() -> dict[str, dict[str, str]]:
    try:
        points = metadata.distribution(_DISTRIBUTION).entry_points
    except metadata.PackageNotFoundError:
        import tomllib

        project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
        groups: dict[str, dict[str, str]] = {"console_scripts": dict(project.get("scripts", {}))}
        for group, entries in project.get("entry-points", {}).items():
            groups[group] = dict(entries)
        return groups
    groups = {}
    for ep in points:
        groups.setdefault(ep.group, {})[ep.name] = ep.value
    return groups


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pyproject_text(package: Path = PACKAGE) -> str:
    """A pyproject.toml that installs the grader package found at `package` with the installed metadata."""
    packages = sorted(
        ".".join(p.relative_to(package.parent).parts)
        for p in [package, *package.rglob("*")]
        if p.is_dir() and (p / "__init__.py").is_file() and "__pycache__" not in p.parts
    )
    data_files = sorted(
        f.relative_to(package).as_posix()
        for f in package.rglob("*")
        if f.is_file() and f.suffix not in (".py", ".pyc") and "__pycache__" not in f.parts
    )
    lines = [
        "# Written by the grader from its installed metadata, so that this folder installs with pip.",
        "[build-system]",
        'requires = ["setuptools>=64"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f"name = {_toml_string(_DISTRIBUTION)}",
        f"version = {_toml_string(_version())}",
        'requires-python = ">=3.11"',
        "dependencies = [",
        *(f"    {_toml_string(r)}," for r in requirements()),
        "]",
    ]
    groups = _entry_points()
    scripts = groups.pop("console_scripts", {})
    if scripts:
        lines += ["", "[project.scripts]", *(f"{name} = {_toml_string(v)}" for name, v in sorted(scripts.items()))]
    for group, entries in sorted(groups.items()):
        lines += ["", f"[project.entry-points.{_toml_string(group)}]"]
        lines += [f"{_toml_string(name)} = {_toml_string(v)}" for name, v in sorted(entries.items())]
    lines += ["", "[tool.setuptools]", "packages = [" + ", ".join(_toml_string(p) for p in packages) + "]"]
    if data_files:
        lines += ["", "[tool.setuptools.package-data]", f"grader = [{', '.join(_toml_string(f) for f in data_files)}]"]
    return "\n".join(lines) + "\n"


def write_installable(out: Path, *, requirements_header: str) -> None:
    """Copy the grader package into `out/grader` with a pyproject.toml and a requirements.txt beside it."""
    shutil.copytree(PACKAGE, out / "grader", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (out / "pyproject.toml").write_text(pyproject_text(out / "grader"))
    (out / "requirements.txt").write_text("\n".join([requirements_header, *requirements()]) + "\n")
