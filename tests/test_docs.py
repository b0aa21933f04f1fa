"""The README's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_image

README = Path(__file__).resolve().parent.parent / "README.md"


def python_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_reanalysis_example_runs_against_the_emulator(tmp_path, run, uploading, isolated_home):
    for i in range(3):
        write_image(tmp_path / "in" / f"{i}.png", seed=i, size=(300, 200))
    assert run("add", tmp_path / "in", "--tag", "product-shots").exit_code == 0
    [example] = [code for code in python_examples() if "lib.requests(" in code]
    env = {
        "PATH": "/usr/bin:/bin",
        "ASSETMGR_HOME": str(isolated_home),
        "ASSETMGR_DB": str(run.db),
        "ANTHROPIC_BASE_URL": uploading.base_url,
        "ANTHROPIC_API_KEY": "test-key",
    }
    result = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Image ") == 3 and "Image 3: 300x200 image/png" in result.stdout


def test_readme_shows_the_ci_test_command():
    ci = (README.parent / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in README.read_text()
