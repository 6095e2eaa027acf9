"""What the package declares matches what the code uses (fast; the wheel: test_packaging_wheel).

Every runtime dependency is imported somewhere (none dead), every third-party import is
declared, every private module we import has an upper bound, every package-data glob
matches a file, and the ``synthset`` command finds its settings from any directory
without touching another project's ``scrapy.cfg``.
"""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OUR_PACKAGES = ("catalog", "crawler", "curate", "model", "synthset")
SETUP = configparser.ConfigParser()
SETUP.read(REPO / "setup.cfg")


def requirements(section: str, key: str) -> dict[str, str]:
    """Normalized distribution name -> its version specifier, from one setup.cfg list."""
    found = {}
    for line in SETUP[section][key].splitlines():
        line = line.split(";")[0].strip()
        if line and not line.startswith("#"):
            name, spec = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?\s*(.*)", line).groups()
            found[normalize(name)] = spec
    return found


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules() -> set[str]:
    """Every module our packages import, dotted, as written."""
    names = set()
    for package in OUR_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module)
    return names


def distributions_of(modules: set[str]) -> dict[str, set[str]]:
    """Normalized distribution -> the modules of ``modules`` it provides (not stdlib, not ours)."""
    providers = packages_distributions()
    found: dict[str, set[str]] = {}
    for module in modules:
        top = module.split(".")[0]
        if top in OUR_PACKAGES or top in sys.stdlib_module_names:
            continue
        for dist in providers.get(top, [f"<no distribution provides {top}>"]):
            found.setdefault(normalize(dist), set()).add(module)
    return found


RUNTIME = requirements("options", "install_requires")
MODEL = requirements("options.extras_require", "model")
REDIS = requirements("options.extras_require", "redis")  # the shared crawl frontier


def test_every_runtime_dependency_is_imported_and_every_import_declared():
    used = distributions_of(imported_modules())
    assert set(RUNTIME) <= set(used), f"declared but never imported: {set(RUNTIME) - set(used)}"
    undeclared = set(used) - set(RUNTIME) - set(MODEL) - set(REDIS)
    assert not undeclared, f"imported but not declared: {undeclared}"


def test_private_modules_we_import_have_an_upper_bound():
    private = {
        dist: sorted(m for m in modules if any(p.startswith("_") for p in m.split(".")[1:]))
        for dist, modules in distributions_of(imported_modules()).items()
    }
    private = {dist: modules for dist, modules in private.items() if modules}
    assert "textual-image" in private  # the control: we do reach into textual_image._terminal
    for dist, modules in private.items():
        spec = RUNTIME.get(dist) or MODEL.get(dist) or REDIS.get(dist, "")
        assert "<" in spec, f"{dist} ({', '.join(modules)}) needs an upper bound, has {spec!r}"


def test_every_dependency_has_a_floor():
    for dist, spec in {**RUNTIME, **MODEL, **REDIS}.items():
        assert ">=" in spec, f"{dist}: give it a tested floor (.ci/floors pins it)"


def test_package_data_globs_match_files():
    for package, patterns in SETUP["options.package_data"].items():
        for pattern in patterns.split(","):
            folder = REPO / package.replace(".", "/")
            assert list(folder.glob(pattern.strip())), f"{package}: {pattern!r} matches nothing"


def test_sqlite_utils_is_no_runtime_dependency():
    assert "sqlite-utils" not in RUNTIME and "sqlite_utils" not in {
        m.split(".")[0] for m in imported_modules()
    }


def synthset_command(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``synthset ARGS`` run in ``cwd`` (as the console script does), with no settings env."""
    env = {k: v for k, v in __import__("os").environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "synthset.scrapy_cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("other_project", [False, True], ids=["plain folder", "other project"])
def test_synthset_command_finds_its_spiders_anywhere(tmp_path, other_project):
    if other_project:  # a user's own Scrapy project: its scrapy.cfg names its own settings
        (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = theirproject.settings\n")
    done = synthset_command(tmp_path, "list")
    assert done.returncode == 0, done.stderr
    assert {"imagenet_synset", "web_images"} <= set(done.stdout.split())
    assert not (tmp_path / "data").exists()  # listing writes nothing


def test_synthset_crawl_keeps_the_one_line_errors(tmp_path):
    done = synthset_command(tmp_path, "crawl", "no_such_spider")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: no spider named 'no_such_spider'")
    assert "Traceback" not in done.stderr
