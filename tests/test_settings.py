"""The settings file: precedence (flag > environment > file > default), what each setting
reaches, ``config set/unset/get/list/path``, and bad files (unknown keys, wrong kinds, not
TOML) refused with one line that says what to do, while ``config`` can still mend them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_image

from assetmgr.cli import cli
from assetmgr.errors import ExitCode


@pytest.fixture
def config_file(isolated_home) -> Path:
    return Path(isolated_home) / "config.toml"


def stats(run, *args) -> dict:
    result = run("stats", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_config_path_is_in_the_app_folder_or_where_the_environment_says(run, config_file, tmp_path, monkeypatch):  # fmt: skip
    assert run("config", "path").stdout.strip() == str(config_file)
    monkeypatch.setenv("ASSETMGR_CONFIG", str(tmp_path / "team.toml"))
    assert run("config", "path").stdout.strip() == str(tmp_path / "team.toml")
    assert run("config", "set", "model", "claude-haiku-5-5").exit_code == 0
    assert (tmp_path / "team.toml").read_text() == 'model = "claude-haiku-5-5"\n'
    assert not config_file.exists()


def test_a_flag_wins_over_the_environment_which_wins_over_the_file(run, monkeypatch):
    assert stats(run)["model"] is None and stats(run)["price_per_mtok"] == 3.0  # the defaults
    run("config", "set", "model", "claude-haiku-5-5")
    run("config", "set", "price", "7")
    assert stats(run)["model"] == "claude-haiku-5-5" and stats(run)["price_per_mtok"] == 7.0
    monkeypatch.setenv("ASSETMGR_MODEL", "claude-opus-4-7")
    monkeypatch.setenv("ASSETMGR_PRICE", "9")  # a variable Click does not know of itself
    assert stats(run)["model"] == "claude-opus-4-7" and stats(run)["price_per_mtok"] == 9.0
    flagged = stats(run, "--model", "claude-sonnet-5-5", "--price", "2")
    assert flagged["model"] == "claude-sonnet-5-5" and flagged["price_per_mtok"] == 2.0
    listed = {row["key"]: row for row in run.json_lines("config", "list")}
    assert listed["model"]["source"] == "env" and listed["model"]["value"] == "claude-opus-4-7"
    assert listed["price"]["source"] == "env" and listed["price"]["value"] == 9.0
    assert listed["workspace"]["source"] == "default" and listed["workspace"]["value"] is None
    monkeypatch.delenv("ASSETMGR_MODEL")
    listed = {row["key"]: row for row in run.json_lines("config", "list")}
    assert listed["model"] == {**listed["model"], "source": "file", "value": "claude-haiku-5-5"}


def test_excludes_and_policy_from_the_file_reach_add(run, tmp_path):
    write_image(tmp_path / "pics" / "keep.png", seed=1)
    write_image(tmp_path / "pics" / "skip.tmp", seed=2)
    write_image(tmp_path / "pics" / ".git" / "obj.png", seed=3)
    run("config", "set", "exclude", "*.tmp", ".git")
    run("config", "set", "policy", "original")
    outcomes = run.json_lines("add", tmp_path / "pics")
    assert [Path(o["path"]).name for o in outcomes] == ["keep.png"]
    [shown] = [json.loads(run("show", outcomes[0]["sha256"], "--json").stdout)]
    assert [r["policy"] for r in shown["renditions"]] == ["original"]
    write_image(tmp_path / "more" / "x.tmp", seed=4)
    flagged = run.json_lines("add", tmp_path / "more", "--exclude", "nothing")
    assert [Path(o["path"]).name for o in flagged] == ["x.tmp"]  # the flag replaces the list


def test_catalogue_and_store_from_the_file_relative_to_it(tmp_path, monkeypatch):
    folder = tmp_path / "team"
    monkeypatch.setenv("ASSETMGR_CONFIG", str(folder / "config.toml"))
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "set", "catalogue", "shared.db"]).exit_code == 0
    assert runner.invoke(cli, ["config", "set", "store", "renditions"]).exit_code == 0
    write_image(tmp_path / "pics" / "big.png", size=(3000, 2000), seed=5)
    result = runner.invoke(cli, ["add", str(tmp_path / "pics")])
    assert result.exit_code == 0, result.output
    assert (folder / "shared.db").is_file()
    assert [p for p in (folder / "renditions").rglob("*") if p.is_file() and len(p.name) == 64]
    monkeypatch.setenv("ASSETMGR_DB", str(tmp_path / "other.db"))  # the environment wins
    listed = runner.invoke(cli, ["ls"])
    assert (listed.exit_code, listed.stdout, listed.stderr) == (0, "", "no assets\n")
    assert (tmp_path / "other.db").is_file()


def test_config_set_keeps_comments_and_other_lines(run, config_file):
    config_file.write_text(
        '# team settings\nworkspace = "eu"  # the EU one\nexclude = [\n  "*.tmp",\n]\n'
    )
    assert run("config", "set", "exclude", "*.bak", "*.part").exit_code == 0
    assert run("config", "set", "upload_jobs", "3").exit_code == 0
    assert config_file.read_text() == (
        '# team settings\nworkspace = "eu"  # the EU one\nexclude = ["*.bak", "*.part"]\n'
        "upload_jobs = 3\n"
    )
    assert run("config", "get", "exclude").stdout == "*.bak, *.part\n"
    assert run("config", "unset", "workspace").exit_code == 0
    assert (
        "workspace" not in config_file.read_text() and "# team settings" in config_file.read_text()
    )
    unset = run("config", "get", "workspace")  # its default applies
    assert unset.exit_code == 0 and unset.stdout == ""
    assert unset.stderr.startswith("workspace is not set: its default applies (")


@pytest.mark.parametrize(
    "text, message",
    [
        ('workspce = "eu"\n', "unknown setting 'workspce'; did you mean 'workspace'?"),
        ("upload_jobs = 0\n", "upload_jobs: give a whole number of at least 1"),
        ('policy = "fast"\n', "policy: choose one of vision, vision-hd, original"),
        ('expires_in = "3y"\n', "expires_in: give a number with s, m, h or d"),
        ("exclude = [1, 2]\n", "exclude: give a list of strings"),
        ("model = \n", "is not valid TOML"),
        ('[defaults]\nmodel = "x"\n', "[defaults] is a table; settings are top-level"),
    ],
)
def test_a_bad_file_is_one_line_naming_it_and_config_still_mends_it(run, config_file, text, message):  # fmt: skip
    config_file.write_text(text)
    result = run("ls")
    assert result.exit_code == ExitCode.USAGE, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {config_file}") and message in line, line
    assert run("config", "path").exit_code == 0
    key = text.split("=")[0].strip().strip("[]")
    if "TOML" not in message and "table" not in message:
        assert run("config", "unset", key).exit_code == 0
        assert run("ls").exit_code == 0


def test_config_set_refuses_unknown_keys_and_wrong_values(run, config_file):
    for args, message in [
        (("workspce", "eu"), "unknown setting 'workspce'; did you mean 'workspace'?"),
        (("jobs", "many"), "jobs: give a whole number of at least 1"),
        (("model", "a", "b"), "model takes one value"),
        (("price", "--", "-1"), "price: give a number of dollars"),
    ]:
        result = run("config", "set", *args)
        assert result.exit_code == ExitCode.USAGE and message in result.stderr, result.stderr
    assert not config_file.exists()
    assert run("config", "unset", "workspace").exit_code == ExitCode.USAGE


def test_a_bad_environment_value_names_the_variable(run, monkeypatch):
    monkeypatch.setenv("ASSETMGR_UPLOAD_JOBS", "lots")
    result = run("config", "list")
    assert result.exit_code == ExitCode.USAGE
    assert "ASSETMGR_UPLOAD_JOBS: give a whole number of at least 1" in result.stderr
