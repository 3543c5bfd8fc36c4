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
