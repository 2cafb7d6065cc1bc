"""The `gazecam` dispatcher: help, no command, --debug before or after the command, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gazecam.cli import COMMANDS, build_parser, main


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0 and f"gazecam {name}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--debug", "process", "x", "-o", "o.mp4"], ["process", "x", "-o", "o.mp4", "--debug"],
                                  ["process", "x", "-o", "o.mp4"]])
def test_debug_is_accepted_before_and_after_the_command(argv):
    args = build_parser().parse_args(argv)
    assert args.debug is ("--debug" in argv)


@pytest.mark.parametrize("debug", [False, True])
def test_user_error_is_one_line_and_traceback_only_with_debug(tmp_path, capsys, debug):
    argv = ["process", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4")] + (["--debug"] if debug else [])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("gazecam process: error: input not found")
    assert ("Traceback" in err) is debug


def test_python_dash_m_runs_the_cli():
    r = subprocess.run([sys.executable, "-m", "gazecam", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("gazecam ")
