"""
Resolve the plugin's built wheel with each Open edX release's pins, for that release's Python.

``make check-releases`` runs it in CI: a range in pyproject.toml that excludes a version a release
ships makes pip's resolver fail here, long before an operator's image build does. Each release's
pins are a constraints file in ``requirements/releases/``, whose ``# python:`` line names the
release's Python; pip resolves for that Python (``--python-version``), so Verawood's Python 3.12
libraries are checked on a machine that has only 3.11.

    python requirements/check_releases.py [--wheel PATH] [--pip-option=OPTION ...] [RELEASE ...]
"""

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RELEASES_DIR = Path(__file__).resolve().parent / "releases"
PYTHON_LINE = re.compile(r"^#\s*python:\s*(\d+\.\d+)\s*$", re.MULTILINE)
# Pins with no wheel for the release's Python: the platform builds them from source, and a resolver
# that may only read wheels (as --python-version requires) leaves them unconstrained.
SOURCE_ONLY_LINE = re.compile(r"^#\s*source-only for Python [\d.]+:\s*([\w.,\s-]+?)\s*(?:\(|$)", re.MULTILINE)
PIN_LINE = re.compile(r"^([A-Za-z0-9][\w.-]*)==")


@dataclass(frozen=True)
class Release:
    name: str
    pins: Path
    python: str
    source_only: frozenset[str] = frozenset()

    @classmethod
    def read(cls, pins: Path) -> "Release":
        text = pins.read_text(encoding="utf-8")
        match = PYTHON_LINE.search(text)
        if not match:
            raise SystemExit(f"{pins}: no '# python: X.Y' line says which Python the release runs.")
        source_only = {
            name.strip().lower()
            for line in SOURCE_ONLY_LINE.findall(text)
            for name in line.split(",")
            if name.strip()
        }
        return cls(name=pins.stem, pins=pins, python=match.group(1), source_only=frozenset(source_only))

    def wheel_constraints(self, directory: Path) -> Path:
        """The pins less the source-only ones, as a constraints file in ``directory``."""
        kept = [
            line
            for line in self.pins.read_text(encoding="utf-8").splitlines()
            if not (PIN_LINE.match(line) and PIN_LINE.match(line).group(1).lower() in self.source_only)
        ]
        path = directory / f"{self.name}-wheels.txt"
        path.write_text("\n".join(kept) + "\n", encoding="utf-8")
        return path


@dataclass(frozen=True)
class Verdict:
    release: Release
    resolved: bool
    detail: str


def releases(names: list[str], directory: Path = RELEASES_DIR) -> list[Release]:
    known = {pins.stem: pins for pins in sorted(directory.glob("*.txt"))}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown release(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [Release.read(known[name]) for name in (names or known)]


def build_wheel(output: Path) -> Path:
    """The wheel an operator would install, built from this checkout."""
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(output), str(ROOT)],
        check=True,
    )
    [wheel] = output.glob("openedx_pok_credentials-*.whl")
    return wheel


def resolve(wheel: Path, release: Release, scratch: Path, pip_options: list[str]) -> Verdict:
    """Ask pip's resolver, for the release's Python and wheels only, to install the wheel under its pins."""
    constraints = release.wheel_constraints(scratch)
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-color",
        "--disable-pip-version-check", "--only-binary=:all:", "--python-version", release.python,
        "--target", str(scratch / "target"), "--constraint", str(constraints), *pip_options, str(wheel),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode == 0:
        return Verdict(release, resolved=True, detail="resolves")
    return Verdict(release, resolved=False, detail=pip_explanation(result.stdout, result.stderr))


def pip_explanation(stdout: str, stderr: str) -> str:
    """What pip says caused the conflict (its 'caused by' paragraph), else its error lines."""
    cause = re.search(r"The conflict is caused by:\n(.*?)(?:\n\n|\Z)", stdout, re.DOTALL)
    errors = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    return "\n".join([*errors[:1], *([cause.group(0).strip()] if cause else errors[1:])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("releases", nargs="*", help="release names (default: every file in releases/)")
    parser.add_argument("--wheel", type=Path, help="a built wheel (default: build one from this checkout)")
    parser.add_argument("--releases-dir", type=Path, default=RELEASES_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--pip-option", action="append", default=[], help="passed to pip, e.g. --no-index")
    options = parser.parse_args(argv)
    chosen = releases(options.releases, options.releases_dir)
    with tempfile.TemporaryDirectory(prefix="check-releases-") as scratch:
        wheel = options.wheel or build_wheel(Path(scratch) / "wheel")
        verdicts = [resolve(wheel, release, Path(scratch), options.pip_option) for release in chosen]
    for verdict in verdicts:
        mark = "ok" if verdict.resolved else "CONFLICT"
        unchecked = sorted(verdict.release.source_only)
        note = f" ({', '.join(unchecked)}: source only, not checked)" if unchecked else ""
        print(f"{mark:8} {verdict.release.name} (Python {verdict.release.python}): {wheel.name}{note}")  # noqa: T201
        if not verdict.resolved:
            print("         " + verdict.detail.replace("\n", "\n         "))  # noqa: T201
    return 0 if all(verdict.resolved for verdict in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
