import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "mtbench", *args], capture_output=True, text=True)


def test_help_lists_every_command():
    out = run("--help")
    assert out.returncode == 0
    for name in ("download", "gen-answer", "gen-api-answer", "judge", "show"):
        assert name in out.stdout


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("mtbench ")


@pytest.mark.parametrize("args", [["--bogus"], ["judge", "--parallel", "x"]])
def test_usage_error_is_one_line_exit_2(args):
    out = run(*args)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr
