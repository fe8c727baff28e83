"""Assembling the web page for deployment: ``web/`` plus the pinned packages' files, and synth's refusal of a page that
was never assembled. A stand-in page (tests/infra/fixtures/web) plays ``web/``."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import pytest
from aws_cdk import App

from infra.application import build_app
from infra.constants import (
    REPO_ROOT,
    UPLOT,
    VENDORED,
    WEB_ASSETS_CONTEXT_KEY,
    WEB_INDEX,
    VendoredFiles,
)
from infra.web_assets import WebAssetsError, assemble, main
from tests.support.templates import WEB_PAGE_FIXTURE, cli_context


@pytest.fixture
def page(tmp_path: Path) -> Path:
    """A copy of the stand-in page, free to change."""
    return Path(shutil.copytree(WEB_PAGE_FIXTURE, tmp_path / "web"))


def _files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_the_page_and_the_pinned_packages_files_are_assembled_together(page: Path, tmp_path: Path) -> None:
    dest = assemble(page, VENDORED, tmp_path / "build")

    vendored = {f"{package.page_dir}/{name}" for package in VENDORED for name in package.files}
    # Hidden files (an assembly's stamp, `.complete`) are never part of the page
    visible = {name for name in _files(page) if not Path(name).name.startswith(".")}
    assert _files(dest) == visible | vendored
    assert all(filecmp.cmp(page / name, dest / name, shallow=False) for name in visible)
    for package in VENDORED:
        assert all(filecmp.cmp(package.dist_dir / n, dest / package.page_dir / n, shallow=False) for n in package.files)


def test_assembling_again_drops_what_the_page_no_longer_has(page: Path, tmp_path: Path) -> None:
    # Given a page assembled with a stylesheet, which is then deleted
    dest = assemble(page, VENDORED, tmp_path / "build")
    (page / "css" / "page.css").unlink()

    # When it is assembled again
    assemble(page, VENDORED, dest)

    # Then the old stylesheet is not deployed
    assert not (dest / "css" / "page.css").exists()
    assert (dest / WEB_INDEX).is_file()


def test_editor_leftovers_are_not_shipped(page: Path, tmp_path: Path) -> None:
    (page / ".index.html.swp").write_text("swap")
    (page / "app.js~").write_text("backup")

    dest = assemble(page, VENDORED, tmp_path / "build")

    assert not {".index.html.swp", "app.js~"} & _files(dest)


def test_a_missing_page_is_refused_by_name_and_leaves_the_last_assembly(page: Path, tmp_path: Path) -> None:
    dest = assemble(page, VENDORED, tmp_path / "build")

    with pytest.raises(WebAssetsError, match=r"no page to assemble: .*index\.html does not exist"):
        assemble(tmp_path / "nowhere", VENDORED, dest)

    assert (dest / WEB_INDEX).is_file()


def test_missing_package_files_name_the_package_and_the_command_that_installs_them(page: Path, tmp_path: Path) -> None:
    empty = tmp_path / "uplot"
    empty.mkdir()
    uninstalled = VendoredFiles(UPLOT.package, empty, UPLOT.files, UPLOT.page_dir)

    with pytest.raises(WebAssetsError, match=r"uplot's .* missing .*run `make install`"):
        assemble(page, (uninstalled,), tmp_path / "build")


def test_the_command_reports_a_missing_page_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--source", str(tmp_path / "web"), "--dest", str(tmp_path / "build")]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: no page to assemble")


def test_synth_refuses_a_page_that_was_never_assembled(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    context = cli_context(**{WEB_ASSETS_CONTEXT_KEY: str(tmp_path / "empty"), "aws:cdk:bundling-stacks": []})

    with pytest.raises(WebAssetsError, match=r"run `make web-assets`"):
        build_app(App(context=context, outdir=str(tmp_path / "cdk.out")))


@pytest.mark.parametrize("package", VENDORED, ids=lambda package: package.package)
def test_each_vendored_package_is_pinned_to_one_version_in_the_manifest_and_the_lock(package: VendoredFiles) -> None:
    manifest = json.loads((REPO_ROOT / "package.json").read_text())
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    version = manifest["dependencies"][package.package]

    assert version[0].isdigit(), "an exact version, no range"
    assert lock["packages"][f"node_modules/{package.package}"]["version"] == version
    installed = REPO_ROOT / "node_modules" / package.package / "package.json"
    assert json.loads(installed.read_text())["version"] == version


def test_no_npm_package_runs_an_install_script() -> None:
    # swagger-ui-dist depends on a telemetry package whose install script would report the install.
    settings = (REPO_ROOT / ".npmrc").read_text().splitlines()
    assert "ignore-scripts=true" in settings
