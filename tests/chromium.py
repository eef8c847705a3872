"""Debian's headless Chromium on the command line, for the browser-lane tests (no WebDriver)."""

import shutil
import subprocess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium(user_data_dir, *arguments, timeout=90, check=False):
    """
    Run headless Chromium with its own profile directory and nothing that would reach the network
    on its own (updates, sync, QUIC), so that it only loads the 127.0.0.1 URLs it is given.
    """
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={user_data_dir}",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=check)  # noqa: S603
