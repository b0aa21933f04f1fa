"""Shell completion (``assetmgr completion SHELL``), tried in a real bash, and the examples
every command's ``--help`` shows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import click
import pytest

from assetmgr.cli import cli


def assetmgr_on_path(tmp_path) -> dict[str, str]:
    """An environment whose PATH has an ``assetmgr`` that runs this checkout's."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "assetmgr"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -m assetmgr "$@"\n')
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def complete_in_bash(env, line: str) -> list[str]:
    """What bash offers for ``line`` with the script ``completion bash`` prints sourced."""
    words = line.split(" ")
    code = (
        "source <(assetmgr completion bash)\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_assetmgr_completion assetmgr\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completes_commands_options_choices_and_setting_keys(tmp_path):
    env = assetmgr_on_path(tmp_path)
    assert complete_in_bash(env, "assetmgr do") == ["doctor"]
    assert set(complete_in_bash(env, "assetmgr d")) == {"doctor", "dupes"}
    assert complete_in_bash(env, "assetmgr add --pol") == ["--policy"]
    assert complete_in_bash(env, "assetmgr add --policy ") == ["vision", "vision-hd", "original"]
    assert complete_in_bash(env, "assetmgr config set upl") == ["upload_jobs"]
    assert complete_in_bash(env, "assetmgr completion ") == ["bash", "zsh", "fish"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_script_its_shell_accepts(run, shell, tmp_path):
    result = run("completion", shell)
    assert result.exit_code == 0 and "_ASSETMGR_COMPLETE" in result.stdout
    binary = shutil.which(shell)
    if binary is None:
        assert shell != "bash"  # bash is always there; zsh and fish only where installed
        return
    script = tmp_path / f"assetmgr.{shell}"
    script.write_text(result.stdout)
    check = (
        [binary, "-n", str(script)] if shell != "fish" else [binary, "--no-execute", str(script)]
    )
    assert subprocess.run(check, capture_output=True).returncode == 0


def test_an_unknown_shell_is_a_usage_error(run):
    result = run("completion", "tcsh")
    assert result.exit_code == 2 and "'tcsh' is not one of" in result.stderr


def commands(group: click.Group, path=()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in commands(cli)])
def test_every_commands_help_shows_an_example(run, path):
    result = run(*path.split(), "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout and "\n    assetmgr " in result.stdout, result.stdout
