"""Headless Chromium for the end-to-end tests of `syncer ui`, and the `syncer ui` server they
browse.

The browser is Debian's `chromium`, driven by Playwright's Python API from a venv of its own
(`VENV`), because Playwright's own browser download cannot be reached everywhere these tests run
and Playwright does not belong in the project's venv. A test hands `Browser.run` a short script;
this file, run by that venv's Python (`python browser.py drive`), launches Chromium on it and
answers with what the script put in `result`. So the test process never imports Playwright, and
this module imports only the standard library at the top.

`make browser` installs both (`python browser.py install` does the venv); `missing()` says what
is absent, for the tests to skip with.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

PLAYWRIGHT_VERSION = "1.65.2"
VENV = Path(
    os.environ.get("SYNCER_TEST_BROWSER_VENV", Path.home() / ".cache/syncer-tests/browser-venv")
)
CHROMIUM = Path(
    os.environ.get("SYNCER_TEST_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
)
VIEWPORT = {"width": 1280, "height": 800}
HINT = "run `make browser` (Debian's chromium, and Playwright in a venv under ~/.cache)"


# --- installing --------------------------------------------------------------------------------


def missing(chromium: Path = CHROMIUM, venv: Path = VENV) -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not (chromium.is_file() and os.access(chromium, os.X_OK)):
        return f"no Chromium at {chromium}: {HINT}"
    if not (venv / f".playwright-{PLAYWRIGHT_VERSION}").exists():
        return f"no Playwright {PLAYWRIGHT_VERSION} in {venv}: {HINT}"
    return None


def install(venv: Path = VENV, say: Callable[[str], None] = print) -> Path:
    """The Python of `venv`, with Playwright installed (once: a marker names its version)."""
    python = venv / "bin" / "python"
    marker = venv / f".playwright-{PLAYWRIGHT_VERSION}"
    if not marker.exists():
        say(f"installing playwright {PLAYWRIGHT_VERSION} into {venv}")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, f"playwright=={PLAYWRIGHT_VERSION}"], check=True)
        marker.touch()
    return python


# --- driving Chromium --------------------------------------------------------------------------


class BrowserError(AssertionError):
    """A browser script failed: its traceback, and where the page was."""


@dataclass(frozen=True)
class Browser:
    """Runs scripts in headless Chromium; each `shot(name)` lands in `shots` as `name.png`."""

    shots: Path
    chromium: Path = CHROMIUM
    python: Path = VENV / "bin" / "python"

    def run(self, script: str, timeout: float = 90, **params: Any) -> dict[str, Any]:
        """Runs `script` on a fresh page and returns its `result` dict.

        The script sees `page` (a Playwright Page, 1280 by 800), `expect` (Playwright's
        assertions, which wait for the page), `params`, `shot(name)` and `result`.
        """
        request = {
            "script": textwrap.dedent(script),
            "chromium": str(self.chromium),
            "shots": str(self.shots),
            "params": params,
        }
        # -I: the folder of this file (tests/support/) must not shadow the venv's modules.
        try:
            done = subprocess.run(
                [str(self.python), "-I", __file__, "drive"],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            output = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
            raise BrowserError(f"browser script ran over {timeout:.0f} s:\n{output}") from None
        if done.returncode != 0:
            raise BrowserError(f"browser script failed:\n{done.stderr[-4000:]}")
        answer: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        return answer


def _drive(request: dict[str, Any]) -> int:
    """In the Playwright venv: runs one script, prints its result as the last line of stdout."""
    from playwright.sync_api import expect, sync_playwright

    shots = Path(request["shots"])
    shots.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=request["chromium"], headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(20_000)
        expect.set_options(timeout=20_000)

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"{name}.png"))

        scope = {"page": page, "expect": expect, "params": request["params"]}
        scope |= {"shot": shot, "result": result}
        try:
            exec(compile(request["script"], "<browser script>", "exec"), scope)
        except Exception:
            failure = shots / f"failure-{time.time_ns()}.png"
            page.screenshot(path=str(failure), full_page=True)
            traceback.print_exc()
            print(f"page: {page.url}\nscreenshot: {failure}", file=sys.stderr)
            print(f"text:\n{page.inner_text('body')[:2000]}", file=sys.stderr)
            return 1
        finally:
            browser.close()
    print(json.dumps(result))
    return 0


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UiServer:
    """`syncer ui ARGS --port PORT` as a subprocess, from start until it answers HTTP to exit.

    Its output goes to `log`, read into the error when it does not come up.
    """

    def __init__(self, args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self._command = [
            str(Path(sys.executable).with_name("syncer")),
            "ui",
            *args,
            "--port",
            str(self.port),
        ]
        self._env = env
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                self._command, stdout=log, stderr=subprocess.STDOUT, env=self._env
            )
        self._wait(self._process)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _wait(self, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(self._command)} exited {process.returncode}:\n"
                    f"{self._log.read_text(errors='replace')[-3000:]}"
                )
            try:
                with urllib.request.urlopen(self.origin + "/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers, if only to say no (a token is wanted)
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(
            f"{' '.join(self._command)} did not answer on {self.origin} within {timeout:.0f} s:\n"
            f"{self._log.read_text(errors='replace')[-3000:]}"
        )


if __name__ == "__main__":
    if sys.argv[1:] == ["drive"]:
        sys.exit(_drive(json.load(sys.stdin)))
    if sys.argv[1:] == ["install"]:  # `make browser`
        print(install())
        sys.exit(0)
    sys.exit(f"usage: {sys.argv[0]} install|drive")
