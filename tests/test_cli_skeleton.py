import pytest

from tests.cli import mtbench, mtbench_process


def test_help_lists_every_command():
    out = mtbench("--help")
    assert out.returncode == 0
    for name in ("download", "gen-answer", "gen-api-answer", "judge", "show"):
        assert name in out.stdout


def test_version():
    out = mtbench("--version")
    assert out.returncode == 0 and out.stdout.startswith("mtbench ")


@pytest.mark.parametrize("args", [["--bogus"], ["judge", "--parallel", "x"]])
def test_usage_error_is_one_line_exit_2(args):
    out = mtbench(*args)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("command, typed", [("judge", "--judge-api-key"), ("run", "--judge-par"), ("show", "--judge")])
def test_a_prefix_of_a_flag_is_not_that_flag(command, typed):
    # `--judge-api azure` was once read as --judge-api-key-env azure (before --judge-api existed); no flag is
    # taken by a prefix of its name
    out = mtbench(command, typed, "x")
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


def test_the_installed_entry_point_runs_as_a_process():
    # `python -m mtbench` itself (the __main__ module and the exit status it hands the shell)
    out = mtbench_process("--bogus", timeout=120)
    assert out.returncode == 2 and "--bogus" in out.stderr and "Traceback" not in out.stderr
    assert mtbench_process("--version", timeout=120).stdout.startswith("mtbench ")


def test_log_messages_reach_the_stderr_of_each_call(data_dir, openai_server):
    # main() called twice in one process logs to each call's stderr, in each call's format (logging.basicConfig
    # configures once per process, and not at all under a test runner's handlers)
    env = {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": None}
    common = ("--base-url", openai_server.base_url, "--data-dir", data_dir, "--question-end", "1", "--no-progress")
    first = mtbench("gen-api-answer", "--model", "a", *common, env=env)
    second = mtbench("-v", "gen-api-answer", "--model", "b", *common, env=env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "mtbench: answering 1 question(s) with a" in first.stderr
    assert "mtbench: INFO: answering 1 question(s) with b" in second.stderr
    assert " with b " not in first.stderr
