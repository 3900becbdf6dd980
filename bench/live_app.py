"""This app live: ``streamlit run`` on a free localhost port and Debian's headless Chromium to drive it.

Shared by the browser test and the browser benchmarks (load, taps) so that every one of them starts the
server, waits for it and drives Chromium the same way. Invariant: selenium is always given Debian's
chromedriver explicitly (it never downloads a browser), every server runs only on 127.0.0.1 and is
terminated (then killed) when its block ends, and a server that does not come up raises with its log.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
#: Seconds a server may take to answer its health check (the machine may be shared and busy).
SERVER_START_TIMEOUT = 120


class ServerDidNotStart(RuntimeError):
    """The Streamlit server exited or did not answer in time; the message holds its log."""


def chromium_available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(
    script: str = "app.py", env: Mapping[str, str] | None = None, timeout: float = SERVER_START_TIMEOUT
) -> Iterator[str]:
    """``streamlit run script`` (relative to the repository) on a free port; yields its URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"]
    command += ["--browser.gatherUsageStats", "false"]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})}, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_health(url, server, log, timeout)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_for_health(url: str, server: subprocess.Popen, log, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    log.seek(0)
    state = f"exited with {server.returncode}" if server.poll() is not None else f"did not answer within {timeout} s"
    raise ServerDidNotStart(f"streamlit {url} {state}:\n{log.read().decode(errors='replace')}")


def chromium_driver(width: int = 1400, height: int = 1000, script_timeout: float = 60):
    """A headless Chromium session of the given window size; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(script_timeout)
    return driver


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator:
    """``chromium_driver`` for the length of a block."""
    driver = chromium_driver(width, height)
    try:
        yield driver
    finally:
        driver.quit()
