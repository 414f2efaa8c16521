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


@pytest.mark.parametrize("command, typed", [("judge", "--judge-api"), ("run", "--judge-par"), ("show", "--judge")])
def test_a_prefix_of_a_flag_is_not_that_flag(command, typed):
    # `--judge-api azure` was once read as --judge-api-key-env azure; no flag is taken by a prefix of its name
    out = run(command, typed, "x")
    assert out.returncode == 2
    assert f"unrecognized arguments: {typed} x" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_each_command_builds_only_its_own_options_and_all_build_together():
    from mtbench.cli import COMMANDS, build_parser

    every = build_parser()  # what the docs' flag tables walk
    sub = next(a for a in every._actions if a.dest == "command")
    assert set(sub.choices) == {name.replace("_", "-") for name in COMMANDS}
    assert all(len(p._actions) > 3 for p in sub.choices.values())
    only_judge = next(a for a in build_parser("judge")._actions if a.dest == "command").choices
    assert len(only_judge["run"]._actions) == len(only_judge["gen-api-answer"]._actions) == 1  # --help alone
    assert len(only_judge["judge"]._actions) > 30
