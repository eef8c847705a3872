"""
requirements/check_releases.py, against a local index of stand-in wheels (no registry): our real
dependency ranges, from pyproject.toml, resolved with a release's pins for the release's Python.
"""

import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "requirements"))

import check_releases  # noqa: E402

# A release as the platform pins it: every library our wheel depends on.
SOUND_PINS = {
    "Django": "4.2.20",
    "requests": "2.32.3",
    "celery": "5.5.1",
    "openedx-filters": "2.0.1",
    "openedx-events": "10.2.0",
    "edx-django-utils": "7.4.0",
    "edx-opaque-keys": "3.0.0",
    "django-crum": "0.7.9",
}


def write_wheel(directory: Path, name: str, version: str, requires: list[str] = ()) -> Path:
    """A wheel holding only its metadata: all pip's resolver reads."""
    stem = f"{name.replace('-', '_')}-{version}"
    path = directory / f"{stem}-py3-none-any.whl"
    metadata = "".join(
        [
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            *(f"Requires-Dist: {r}\n" for r in requires),
        ]
    )
    wheel = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{stem}.dist-info/METADATA", metadata)
        archive.writestr(f"{stem}.dist-info/WHEEL", wheel)
        archive.writestr(f"{stem}.dist-info/RECORD", "")
    return path


@pytest.fixture
def index(tmp_path):
    """Our wheel's metadata with the real ranges, and every pinned library in a few versions."""
    directory = tmp_path / "index"
    directory.mkdir()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    ours = write_wheel(directory, project["name"], project["version"], project["dependencies"])
    for name, version in SOUND_PINS.items():
        write_wheel(directory, name, version, ["pymongo"] if name == "edx-opaque-keys" else [])
    write_wheel(directory, "pymongo", "4.9.0")
    write_wheel(directory, "openedx-events", "8.0.0")
    write_wheel(directory, "openedx-events", "11.2.0")
    write_wheel(directory, "Django", "6.0")
    return directory, ours


def write_release(directory: Path, name: str, python: str, pins: dict[str, str]) -> None:
    directory.mkdir(exist_ok=True)
    lines = [f"# {name}\n", f"# python: {python}\n", *(f"{n}=={v}\n" for n, v in pins.items())]
    (directory / f"{name}.txt").write_text("".join(lines), encoding="utf-8")


def run_check(index, releases_dir, capsys):
    directory, ours = index
    status = check_releases.main(
        [
            "--wheel",
            str(ours),
            "--releases-dir",
            str(releases_dir),
            "--pip-option=--no-index",
            f"--pip-option=--find-links={directory}",
        ]
    )
    return status, capsys.readouterr().out


def test_pins_inside_our_ranges_resolve(index, tmp_path, capsys):
    releases_dir = tmp_path / "releases"
    write_release(releases_dir, "teak", "3.11", SOUND_PINS)
    write_release(releases_dir, "verawood", "3.12", {**SOUND_PINS, "openedx-events": "11.2.0"})
    status, out = run_check(index, releases_dir, capsys)
    assert status == 0, out
    assert "ok       teak (Python 3.11)" in out
    assert "ok       verawood (Python 3.12)" in out


@pytest.mark.parametrize(("name", "version"), [("openedx-events", "8.0.0"), ("Django", "6.0")])
def test_a_pin_outside_our_ranges_is_a_conflict(index, tmp_path, capsys, name, version):
    releases_dir = tmp_path / "releases"
    write_release(releases_dir, "teak", "3.11", SOUND_PINS)
    write_release(releases_dir, "conflicting", "3.12", {**SOUND_PINS, name: version})
    status, out = run_check(index, releases_dir, capsys)
    assert status == 1
    assert "ok       teak" in out
    assert "CONFLICT conflicting (Python 3.12)" in out
    assert name.lower() in out.lower()


def test_a_release_without_its_python_is_refused(tmp_path):
    releases_dir = tmp_path / "releases"
    releases_dir.mkdir()
    (releases_dir / "nameless.txt").write_text("Django==4.2.20\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="python"):
        check_releases.releases([], releases_dir)


def test_the_repository_names_the_python_of_every_release():
    releases = check_releases.releases([])
    assert {release.name for release in releases} >= {"teak", "ulmo", "verawood"}
    assert {release.name: release.python for release in releases if release.name in {"teak", "verawood"}} == {
        "teak": "3.11",
        "verawood": "3.12",
    }


def test_a_pin_built_from_source_for_the_releases_python_is_left_to_pip(index, tmp_path, capsys):
    """pymongo 4.4.0 has no Python 3.12 wheel: Verawood builds it; a wheels-only resolver cannot."""
    releases_dir = tmp_path / "releases"
    write_release(releases_dir, "verawood", "3.12", {**SOUND_PINS, "pymongo": "4.4.0"})
    status, out = run_check(index, releases_dir, capsys)
    assert status == 1  # no wheel of pymongo 4.4.0 in the index

    pins = releases_dir / "verawood.txt"
    pins.write_text(
        "# source-only for Python 3.12: pymongo (no cp312 wheel)\n" + pins.read_text(encoding="utf-8")
    )
    status, out = run_check(index, releases_dir, capsys)
    assert status == 0, out
    assert "(pymongo: source only, not checked)" in out
