"""Fixtures shared by several test files."""

from __future__ import annotations

import subprocess

import pytest


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory on a read-only filesystem (a real ro tmpfs mount as root, else chmod)."""
    import os

    card = tmp_path / "card"
    card.mkdir()
    if os.geteuid() != 0:
        card.chmod(0o555)
        yield card
        card.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(card)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.strip()}")
    try:
        yield card
    finally:
        subprocess.run(["umount", str(card)], check=True)
