"""The README stays true to the code."""

from __future__ import annotations

import re
from pathlib import Path

import activelab as al

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_lists_every_registered_strategy():
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", README.read_text(), flags=re.MULTILINE))
    assert listed == set(al.strategies.available())


def test_readme_shows_the_two_commands():
    text = README.read_text()
    assert "make run" in text and "make test" in text
