"""Loading the compiled extension: clear errors for a missing, stale or mismatched build, and
``python -m qagent info``."""

import json
import subprocess
import sys

import pytest
import torch

from qagent import _ext


def load_with(monkeypatch, info):
    monkeypatch.setattr(_ext, "recorded_build_info", lambda: info)
    return _ext.load.__wrapped__()  # bypass the cache of the real, successful load


def test_missing_build_says_how_to_build(monkeypatch):
    with pytest.raises(_ext.ExtensionError, match="(?s)has not been built.*pip install --no-build-isolation"):
        load_with(monkeypatch, None)


def test_build_for_another_torch_is_refused_before_loading(monkeypatch):
    info = dict(_ext.recorded_build_info(), torch_version="1.13.0+cu117")
    with pytest.raises(_ext.ExtensionError, match=r"built against torch 1.13.0\+cu117 but torch .* is installed"):
        load_with(monkeypatch, info)


def test_cuda_build_under_a_cpu_torch_is_refused(monkeypatch):
    if torch.version.cuda is not None:
        pytest.skip("needs a CPU build of torch")
    info = dict(_ext.recorded_build_info(), build="cuda")
    with pytest.raises(_ext.ExtensionError, match="CUDA build but the installed torch is a CPU build"):
        load_with(monkeypatch, info)


def test_unreadable_build_info(monkeypatch, tmp_path):
    broken = tmp_path / "_build_info.json"
    broken.write_text("{not json")
    monkeypatch.setattr(_ext, "build_info_path", lambda: str(broken))
    with pytest.raises(_ext.ExtensionError, match="cannot read"):
        _ext.recorded_build_info.__wrapped__()


def test_info_command():
    out = subprocess.run([sys.executable, "-m", "qagent", "info", "--json"], capture_output=True, text=True, check=True)
    facts = json.loads(out.stdout)
    assert facts["build"] in ("cpu", "cuda") and facts["torch_version"] == torch.__version__
    assert "cpu" in facts["devices"] and facts["openmp"] is True and facts["openmp_threads"] >= 1


def _copy_package(dest, with_extension: bool):
    """A copy of the qagent package folder (Python files, _build_info.json) at dest/qagent,
    with or without the compiled extension."""
    import shutil
    from pathlib import Path

    src = Path(_ext.package_dir())

    def ignore(folder, names):
        return [n for n in names if n == "__pycache__" or (not with_extension and n.startswith("_C.")
                                                            and Path(folder) == src)]

    shutil.copytree(src, dest / "qagent", ignore=ignore)
    return dest / "qagent"


def test_a_source_folder_without_the_extension_that_shadows_the_installed_copy_is_named(tmp_path):
    # after `pip install .` (not -e), running from the checkout's root imports ./qagent, which
    # has the Python files but no compiled extension, ahead of the installed copy
    checkout, site = tmp_path / "checkout", tmp_path / "site"
    checkout.mkdir(), site.mkdir()
    (checkout / "setup.py").write_text("")
    (checkout / "csrc").mkdir()
    source = _copy_package(checkout, with_extension=False)
    installed = _copy_package(site, with_extension=True)
    assert not _ext.has_extension(source) and _ext.has_extension(installed)
    env = {**__import__("os").environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", "import qagent"], cwd=checkout, env=env, capture_output=True,
                         text=True)
    assert run.returncode != 0
    assert "circular import" not in run.stderr
    assert (f"qagent was imported from the source folder {source.resolve()}, which has no compiled extension; "
            f"the installed copy is at {installed.resolve()}") in run.stderr
    assert "run from another folder, or install in place with pip install --no-build-isolation -e ." in run.stderr
    # the advice works: from another folder the installed copy is imported and runs
    info = subprocess.run([sys.executable, "-m", "qagent", "info", "--json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["build"] in ("cpu", "cuda")


def test_a_package_folder_without_the_extension_and_no_other_copy_says_how_to_build(monkeypatch, tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "setup.py").write_text("")
    (checkout / "csrc").mkdir()
    source = _copy_package(checkout, with_extension=False)
    monkeypatch.setattr(_ext, "package_dir", lambda: source)
    monkeypatch.setattr(_ext, "other_copies", lambda here=None: [])
    with pytest.raises(_ext.ExtensionError, match=r"(?s)has not been built: the source folder .*checkout.qagent "
                                                  r"has none.*pip install --no-build-isolation -e \."):
        _ext.load.__wrapped__()


def test_other_copies_lists_package_folders_with_an_extension_along_sys_path(monkeypatch, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    without = _copy_package(a, with_extension=False)
    first = _copy_package(b, with_extension=True)
    monkeypatch.setattr(sys, "path", [str(a), str(b)] + sys.path)
    found = _ext.other_copies(without)
    assert found[0] == first.resolve() and without.resolve() not in found
    assert _ext.package_dir().resolve() in found  # the real package (imported through sys.path or a hook)
