"""The three descriptions of the environment agree: pyproject, requirements.lock, environment.yml."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import ROOT


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _declared() -> list[Requirement]:
    """Everything `make setup` installs: the dependencies and every extra but `test`."""
    project = _pyproject()["project"]
    groups = project["optional-dependencies"]
    extras = [r for name, group in groups.items() if name != "test" for r in group]
    return [Requirement(r) for r in [*project["dependencies"], *extras]]


def _lock(name: str = "requirements.lock") -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert found, f"{name}: {line!r} is not an exact pin (name==version)"
        pins[canonicalize_name(found.group(1))] = Version(found.group(2))
    return pins


def test_every_declared_dependency_is_pinned_in_the_lock_within_its_range() -> None:
    pins = _lock()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in pyproject but not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} in the lock is outside pyproject's range {requirement.specifier}"
        )


def test_the_test_extras_are_pinned_in_their_own_lock_on_top_of_the_main_one() -> None:
    # `make setup` installs requirements.lock; `make test` adds requirements-test.lock.
    main, extras = _lock(), _lock("requirements-test.lock")
    assert set(main).isdisjoint(extras)
    for line in _pyproject()["project"]["optional-dependencies"]["test"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in extras, f"{name} is in pyproject [test] but not in requirements-test.lock"
        assert requirement.specifier.contains(extras[name], prereleases=True), name


def test_the_lock_pins_the_user_chosen_stack() -> None:
    pins = _lock()
    chosen = {
        "pandas", "numpy", "scipy", "scikit-learn", "lifetimes", "seaborn", "matplotlib",
        "pyarrow", "openpyxl", "pyyaml", "papermill", "nbconvert", "ipykernel", "jupyterlab",
        "pytest", "nbval", "nbstripout", "hypothesis",
    }  # fmt: skip
    assert chosen <= set(pins)
    assert pins["lifetimes"] == Version("0.11.3")
    # The kit itself is installed from the work tree (-e .), never pinned in the lock.
    assert "segmentation" not in pins


def test_environment_yml_installs_python_311_the_lock_and_the_kit() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    deps = env["dependencies"]
    assert "python=3.11" in deps
    assert "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip_section == ["-r requirements.lock", "-e ."]
    assert _pyproject()["project"]["requires-python"] == ">=3.11,<3.12"


def test_the_running_environment_matches_the_lock() -> None:
    # `make setup` installs the lock, so what runs the tests is exactly what the lock says.
    pins = _lock()
    for name in ("pandas", "numpy", "scikit-learn", "lifetimes", "papermill", "nbval"):
        assert Version(metadata.version(name)) == pins[name], name


def _report_command(*assignments: str, env_lang: str) -> str:
    import os
    import subprocess

    done = subprocess.run(
        ["make", "-n", "-s", "report", *assignments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LANG": env_lang},
    )
    lines = done.stdout.replace("\\\n", " ").splitlines()
    return next(line for line in lines if "segmentation report" in line)


def test_make_report_passes_its_variables_and_ignores_the_shell_locale() -> None:
    # The shell's LANG is a locale, not the report language.
    default = _report_command(env_lang="C.UTF-8")
    assert '--lang "zh"' in default and '--dataset "demo"' in default
    assert "--month" not in default and "--input" not in default
    chosen = _report_command(
        "LANG=en", "MONTH=2011-11", "INPUT=exports/shop.csv", env_lang="C.UTF-8"
    )
    assert '--lang "en"' in chosen and '--month "2011-11"' in chosen
    assert '--input "exports/shop.csv"' in chosen and "--dataset" not in chosen
    assert '--dataset "cdnow"' in _report_command("DATASET=cdnow", env_lang="en_US.UTF-8")


def _lab_command(tmp_path: Path, *, uid: int, display: str) -> str:
    """The command `make -n lab` would run, as user ``uid`` (an `id` that says so first on
    PATH) with ``DISPLAY`` set to ``display`` ("" for none)."""
    import os
    import subprocess

    fake = tmp_path / f"bin-{uid}"
    fake.mkdir()
    (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n", encoding="utf-8")
    (fake / "id").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    if display:
        env["DISPLAY"] = display
    done = subprocess.run(
        ["make", "-n", "-s", "lab"], cwd=ROOT, capture_output=True, text=True, check=True, env=env
    )
    return next(line for line in done.stdout.splitlines() if "jupyter lab" in line)


def test_make_lab_allows_root_only_as_root_and_opens_no_browser_without_a_display(
    tmp_path: Path,
) -> None:
    as_root = _lab_command(tmp_path, uid=0, display="")
    assert as_root.split() == [
        ".venv/bin/jupyter",
        "lab",
        "--allow-root",
        "--no-browser",
        "notebooks",
    ]
    as_user = _lab_command(tmp_path, uid=1000, display=":0")
    assert as_user.split() == [".venv/bin/jupyter", "lab", "notebooks"]


def test_jupyter_lab_takes_the_flags_make_lab_passes() -> None:
    import subprocess
    import sys

    jupyter = Path(sys.executable).with_name("jupyter")
    done = subprocess.run(
        [str(jupyter), "lab", "--help"], capture_output=True, text=True, check=True
    )
    assert "--allow-root" in done.stdout and "--no-browser" in done.stdout
