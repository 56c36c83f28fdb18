"""A student's `grader check` keeps its sandbox zygote: the setting, the private folder, the key."""

from __future__ import annotations

import os
import shutil
import sysconfig
import tempfile
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.grading import sandbox_client as client


@pytest.fixture
def short():
    """A folder with a short path (a Unix socket's path must fit in about 100 bytes; tmp_path may not)."""
    folder = tempfile.mkdtemp(prefix="gkw-", dir="/tmp")
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(None, client.KEEP_WARM_DEFAULT), ("", client.KEEP_WARM_DEFAULT), ("on", client.KEEP_WARM_DEFAULT),
     ("0", 0.0), ("off", 0.0), ("no", 0.0), ("30", 30.0), ("2.5", 2.5)],
)
def test_the_setting_reads_seconds_or_off(raw: str | None, seconds: float) -> None:
    environ = {} if raw is None else {client.KEEP_WARM_ENV: raw}
    assert client.keep_warm_seconds(environ) == seconds


@pytest.mark.parametrize("raw", ["soon", "-1", "1e9", "nan"])
def test_a_bad_setting_is_a_usage_error_that_names_it(raw: str) -> None:
    with pytest.raises(UsageError, match=client.KEEP_WARM_ENV):
        client.keep_warm_seconds({client.KEEP_WARM_ENV: raw})


def test_the_address_is_in_a_folder_only_this_user_can_enter(short, monkeypatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short))
    address = client.kept_zygote_address()
    assert address is not None and os.path.dirname(address) == str(short / f"grader-{os.getuid()}")
    assert os.stat(os.path.dirname(address)).st_mode & 0o777 == 0o700


def _only_bases(monkeypatch, runtime, tmp, last=()) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setattr(client.tempfile, "gettempdir", lambda: str(tmp))
    monkeypatch.setattr(client, "_LAST_BASES", tuple(map(str, last)))


def test_a_folder_others_may_write_in_is_never_used(short, monkeypatch) -> None:
    runtime, tmp = short / "run", short / "tmp"
    for base in (runtime, tmp):
        folder = base / f"grader-{os.getuid()}"
        folder.mkdir(parents=True)
        folder.chmod(0o777)
    _only_bases(monkeypatch, runtime, tmp)
    assert client.kept_zygote_address() is None
    (tmp / f"grader-{os.getuid()}").chmod(0o700)  # a safe one in the temporary folder is used instead
    address = client.kept_zygote_address()
    assert address is not None and address.startswith(str(tmp))


def test_a_symlinked_folder_is_never_used(short, monkeypatch) -> None:
    runtime, tmp = short / "run", short / "tmp"
    runtime.mkdir()
    tmp.mkdir()
    elsewhere = short / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    for base in (runtime, tmp):
        (base / f"grader-{os.getuid()}").symlink_to(elsewhere)
    _only_bases(monkeypatch, runtime, tmp)
    assert client.kept_zygote_address() is None


def test_a_runtime_folder_too_deep_for_a_socket_falls_back_to_the_temporary_folder(short, monkeypatch) -> None:
    deep = short / ("d" * 120)
    deep.mkdir()
    tmp = short / "tmp"
    tmp.mkdir()
    _only_bases(monkeypatch, deep, tmp)
    address = client.kept_zygote_address()
    assert address is not None and address.startswith(str(tmp)) and len(address.encode()) < 100
    _only_bases(monkeypatch, deep, deep)
    assert client.kept_zygote_address() is None  # nowhere short enough: none kept
    last = short / "last"  # /tmp in use: where the temporary folder is too deep too
    last.mkdir()
    _only_bases(monkeypatch, deep, deep, last=[last])
    address = client.kept_zygote_address()
    assert address is not None and address.startswith(str(last / f"grader-{os.getuid()}"))


def test_installing_a_package_changes_the_key(tmp_path, monkeypatch) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    paths = {**sysconfig.get_paths(), "purelib": str(site), "platlib": str(site)}
    monkeypatch.setattr(client.sysconfig, "get_paths", lambda: paths)
    before = client._install_key()
    assert client._install_key() == before  # stable while nothing changes
    (site / "torch-9.9.dist-info").mkdir()
    os.utime(site, ns=(os.stat(site).st_atime_ns, os.stat(site).st_mtime_ns + 10**9))
    assert client._install_key() != before


def test_a_relative_runtime_folder_is_not_used(short, monkeypatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative/run")
    monkeypatch.setenv("TMPDIR", str(short))
    monkeypatch.setattr(client.tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    address = client.kept_zygote_address()
    assert address is not None and address.startswith(str(short))



def test_looking_for_a_kept_zygote_that_is_gone_does_not_wait_for_one(tmp_path) -> None:
    """A check that finds no kept zygote starts one at once (it used to wait out the ping's timeout)."""
    import time

    gone = client.Zygote(address=str(tmp_path / "zygote-gone.sock"))
    start = time.monotonic()
    assert gone.ping(timeout=30, wait_to_listen=False) is False
    assert time.monotonic() - start < 10  # no wait for a listener: far from the 30 s it would wait


def test_a_temporary_folder_too_deep_for_a_socket_falls_back_to_a_short_one(short, monkeypatch) -> None:
    """A run's own zygote listens in the temporary folder, or, where $TMPDIR is too deep for a Unix
    socket's path (a CI runner's or a test's folder can be), in /tmp: a deep $TMPDIR was an internal error."""
    deep = short / ("d" * 120)
    deep.mkdir()
    monkeypatch.setattr(client.tempfile, "tempdir", str(deep))
    folder = client.socket_folder()
    try:
        address = os.path.join(folder, "zygote.sock")
        assert not folder.startswith(str(deep)) and len(address.encode()) <= 107
        assert os.stat(folder).st_mode & 0o777 == 0o711
        assert list(deep.iterdir()) == []  # the folder it tried there first is gone
    finally:
        os.rmdir(folder)
    monkeypatch.setattr(client.tempfile, "tempdir", str(short))
    folder = client.socket_folder()
    try:
        assert folder.startswith(str(short))  # short enough: the temporary folder itself
    finally:
        os.rmdir(folder)


@pytest.mark.slow  # a real zygote
def test_a_zygote_starts_and_forks_under_a_deep_temporary_folder(short, monkeypatch) -> None:
    deep = short / ("d" * 120)
    deep.mkdir()
    monkeypatch.setattr(client.tempfile, "tempdir", str(deep))
    zygote = client.Zygote.start()
    try:
        assert zygote.ping(timeout=30)
    finally:
        zygote.close()
    assert list(deep.iterdir()) == []
