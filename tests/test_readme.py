"""The README's Python snippets run, in order, as one script: the docs cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def python_blocks(markdown: str) -> list[str]:
    return _PYTHON_BLOCK.findall(markdown)


def run_as_script(blocks: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    """Run the blocks in a fresh interpreter in ``folder``, so relative paths (crm.db) land there."""
    script = folder / "readme_snippets.py"
    script.write_text("\n\n".join(blocks), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "error",
        # The Production sending snippet reads its keys from the environment.
        "MESSAGEBIRD_ACCESS_KEY": "test_readme-access-key",
        "MESSAGEBIRD_SIGNING_KEY": "readme-signing-key-at-least-32-bytes",
    }
    return subprocess.run(
        [sys.executable, str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_readme_snippets_run(tmp_path: Path) -> None:
    blocks = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    result = run_as_script(blocks, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "+16465550175 opted out by keyword" in result.stdout  # the Quick start's receiver heard it


def test_a_broken_snippet_fails(tmp_path: Path) -> None:
    blocks = python_blocks("Intro\n\n```python\nx = 1\n```\n\nthen\n\n```python\nassert x == 2, 'x is 1'\n```\n")
    assert blocks == ["x = 1\n", "assert x == 2, 'x is 1'\n"]
    result = run_as_script(blocks, tmp_path)
    assert result.returncode != 0
    assert "x is 1" in result.stderr


def test_the_readme_images_exist() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert "docs/screenshots/queue.png" in images
    assert [image for image in images if not (ROOT / image).is_file()] == []
