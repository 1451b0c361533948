"""A connector from a user's own crate (examples/custom-connector, `lines`) in PyFlink: its native
library (python-wrappers/examples/lines-bridge) -> generated wheel -> pip install -> SQL DDL,
TableDescriptor helper and DataStream API."""

import json
import os
import subprocess
import sys
import zipfile

import pytest

from conftest import _required_file


def test_lines_connector_from_wheel(built, tmp_path):
    import headrace_pyflink_gen as gen
    _, jar = built
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/headrace-target"))
    lib = _required_file("HEADRACE_LINES_LIB",
                         os.path.join(target, "debug", "libheadrace_example_lines_bridge.so"),
                         "Build it: cargo build -p headrace-example-lines-bridge")
    project = tmp_path / "project"
    subprocess.run([sys.executable, "-m", "headrace_pyflink_gen", "--native-lib", lib,
                    "--base-jar", jar, "--out", str(project), "--package", "headrace_lines",
                    "--wheel-dir", str(tmp_path / "dist")],
                   check=True, env=dict(os.environ, PYTHONPATH=os.path.dirname(gen.HERE)))
    wheels = list((tmp_path / "dist").glob("headrace_lines-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as w:
        assert "headrace_lines/lib/headrace-flink-bridge.jar" in w.namelist()
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(site), str(wheels[0])], check=True)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("HEADRACE_NATIVE_LIBRARY", None)  # the jar inside the wheel must carry the library
    p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "lines_job.py"),
                        str(work)], capture_output=True, text=True, env=env, timeout=300)
    lines = [l for l in p.stdout.splitlines() if l.startswith("REPORT ")]
    if p.returncode != 0 or not lines:
        pytest.fail(f"lines job failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}")
    report = json.loads(lines[-1][len("REPORT "):])
    assert report["connectors"] == ["lines"]
    assert report["sql"] == ["alpha", "beta", "gamma"]
    assert report["descriptor"] == ["ALPHA", "BETA", "GAMMA"]
    assert report["datastream"] == ["", "ahpla", "ammag", "ateb"]
