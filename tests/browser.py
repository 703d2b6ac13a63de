"""Headless Chromium for report tests: found on PATH, required under ``CI=true``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
)  # fmt: skip


def chromium() -> str:
    """Path of a Chromium binary; skip without one, but fail under CI=true (CI must install it)."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    msg = "Chromium not installed (Debian package chromium; .ci/run installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{msg}: the headless-browser report tests must run in CI")
    pytest.skip(msg)


def run(page: Path, profile: Path, *extra: str, size=(1366, 900)) -> subprocess.CompletedProcess:
    """Open ``page`` headless at a ``size`` window with ``extra`` flags (--dump-dom, --screenshot)."""
    cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
           *extra, page.as_uri()]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)
