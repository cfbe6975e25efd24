"""assets/ ships with the package as gonka_tui.assets: found from the checkout (editable install) and
from a built wheel, whose package list in pyproject.toml must name every package folder."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from gonka_tui.assets import asset_path
from tests.conftest import REPO

STYLESHEETS = sorted(p.name for p in (REPO / "assets").glob("*.tcss"))


def packages_in_checkout() -> set[str]:
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "gonka_tui").rglob("__init__.py")}
    return found | {"gonka_tui.assets"}


def test_the_app_styles_itself_from_the_assets_folder():
    from gonka_tui.tui.app import GonkaApp

    assert STYLESHEETS == ["app.tcss"]
    assert asset_path("app.tcss") == REPO / "assets" / "app.tcss"
    assert Path(GonkaApp.CSS_PATH) == REPO / "assets" / "app.tcss"


def test_the_wheel_ships_the_assets_and_an_installed_copy_finds_them(tmp_path):
    # Built from a copy outside the checkout, so that no build/ or egg-info lands in it.
    src = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so")
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("gonka_tui", "assets"):
        shutil.copytree(REPO / name, src / name, ignore=skip)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp_path / "dist", src],
                   check=True, cwd=tmp_path, capture_output=True, timeout=120)
    (wheel,) = (tmp_path / "dist").glob("gonka_tui-*.whl")

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        shipped = sorted(p.name for p in (REPO / "assets").iterdir() if p.suffix in (".tcss", ".json"))
        assert "poc_presets.json" in shipped
        for asset in shipped:
            assert zf.read(f"gonka_tui/assets/{asset}") == (REPO / "assets" / asset).read_bytes()
    in_wheel = {name.rsplit("/", 1)[0].replace("/", ".") for name in names if name.endswith("/__init__.py")}
    missing = packages_in_checkout() - in_wheel
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"

    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", site, wheel],
                   check=True, cwd=tmp_path, capture_output=True, timeout=120)
    # -I: neither the checkout nor the editable install is on the path; the installed copy comes first.
    code = (f"import sys; sys.path.insert(0, {str(site)!r})\n"
            "from gonka_tui.tui.app import GonkaApp\n"
            "print(GonkaApp.CSS_PATH)\n"
            "from gonka_tui.poc.presets import preset\n"
            "print(preset('mainnet').r_target)\n")
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    css_line, r_target = proc.stdout.split()
    assert float(r_target) == 1.398077  # the kernel presets came with the wheel
    css = Path(css_line)
    assert css == site / "gonka_tui" / "assets" / "app.tcss"
    assert css.read_bytes() == (REPO / "assets" / "app.tcss").read_bytes()
