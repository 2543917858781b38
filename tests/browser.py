"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, for tests.

``open_page(url, screenshot)`` loads a page in a fresh browser profile and returns what a
person would see and what the console said: console errors, uncaught exceptions and failed
loads (each is an error entry), the page's title, its text, the number of ``<svg>`` charts,
and a full-page PNG screenshot. The protocol goes over the browser's remote-debugging
websocket (``websocket-client``); the browser gets only the switches it needs to run in a
container as root, without network and without a display.
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser")
# as root in a container Chromium needs --no-sandbox; the background-networking switches keep
# it from calling Google's services on a machine with no network
SWITCHES = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"]


class BrowserMissing(RuntimeError):
    """No Chromium on this machine."""


def find_chromium() -> str:
    """The Chromium executable, or BrowserMissing saying how to install it."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserMissing("headless Chromium is needed for this test and is not installed: "
                         "`apt-get install -y chromium` (Debian's package; .ci/run installs it when missing)")


@dataclass
class PageResult:
    """What loading a page gave."""

    errors: list[str] = field(default_factory=list)     # console errors, exceptions, failed loads
    messages: list[str] = field(default_factory=list)   # every console message, any level
    title: str = ""
    text: str = ""
    charts: int = 0
    size: tuple[int, int] = (0, 0)                      # the document's width and height, CSS pixels


class _Session:
    """One page's DevTools websocket: commands with ids, events kept in order."""

    def __init__(self, ws_url: str, timeout: float):
        import websocket  # websocket-client

        # suppress_origin: Chromium refuses DevTools connections that send an Origin it was not told of
        self.timeout_error = websocket.WebSocketTimeoutException
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.timeout = timeout
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        wanted = self.next_id
        self.ws.send(json.dumps({"id": wanted, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event["method"] == method:
                return event
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return message
        raise TimeoutError(f"no {method} within {timeout} s")

    def drain(self, seconds: float) -> None:
        """Collect the events that arrive within ``seconds`` (late errors)."""
        deadline = time.monotonic() + seconds
        self.ws.settimeout(0.1)
        while time.monotonic() < deadline:
            try:
                message = json.loads(self.ws.recv())
            except self.timeout_error:
                continue
            if "method" in message:
                self.events.append(message)
        self.ws.settimeout(self.timeout)

    def close(self) -> None:
        self.ws.close()


def _errors_and_messages(events: list[dict]) -> tuple[list[str], list[str]]:
    errors, messages = [], []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            messages.append(f"console.{params.get('type')}: {text}")
            if params.get("type") in ("error", "assert"):
                errors.append(f"console.{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description") or details.get("text")
            errors.append(f"exception: {description}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            messages.append(f"log.{entry.get('level')}: {entry.get('text')} {entry.get('url', '')}".rstrip())
            if entry.get("level") == "error":
                errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".rstrip())
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            errors.append(f"load failed: {params.get('errorText')} (request {params.get('requestId')})")
    return errors, messages


def open_page(url: str, screenshot: Path | None = None, width: int = 1280, height: int = 900,
              timeout: float = 60.0) -> PageResult:
    """Load ``url`` in headless Chromium; errors, messages, text and an optional full-page
    PNG screenshot (written to ``screenshot``)."""
    executable = find_chromium()
    profile = tempfile.mkdtemp(prefix="newsarchive-chromium-")
    process = subprocess.Popen([executable, *SWITCHES, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                                "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    session = None
    try:
        port = _devtools_port(Path(profile), process, timeout)
        session = _Session(_page_websocket(port, timeout), timeout)
        for domain in ("Runtime", "Log", "Page", "Network"):
            session.call(f"{domain}.enable")
        session.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                     mobile=False)
        session.call("Page.navigate", url=url)
        session.wait_for("Page.loadEventFired", timeout)
        session.drain(0.5)
        result = PageResult()
        result.errors, result.messages = _errors_and_messages(session.events)
        probe = session.call("Runtime.evaluate", returnByValue=True, expression=(
            "JSON.stringify({title: document.title, text: document.body ? document.body.innerText : '', "
            "charts: document.querySelectorAll('svg').length, "
            "width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight})"))
        facts = json.loads(probe["result"]["value"])
        result.title, result.text, result.charts = facts["title"], facts["text"], facts["charts"]
        result.size = (facts["width"], facts["height"])
        if screenshot is not None:
            shot = session.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                clip={"x": 0, "y": 0, "width": max(width, facts["width"]),
                                      "height": facts["height"], "scale": 1})
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        session.drain(0.2)
        result.errors, result.messages = _errors_and_messages(session.events)
        return result
    finally:
        if session is not None:
            session.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, process: subprocess.Popen, timeout: float) -> int:
    """The port Chromium chose (``--remote-debugging-port=0``), from its DevToolsActivePort file."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
            raise RuntimeError(f"chromium exited with {process.returncode}: {stderr[-2000:]}")
        try:
            first = marker.read_text().split("\n", 1)[0].strip()
        except FileNotFoundError:
            first = ""
        if first.isdigit():
            return int(first)
        time.sleep(0.05)
    raise TimeoutError(f"chromium wrote no DevToolsActivePort within {timeout} s")


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, whatever *_proxy says


def _page_websocket(port: int, timeout: float) -> str:
    """The websocket URL of the browser's first page (the about:blank it started with)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _NO_PROXY.open(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as response:
            targets = json.loads(response.read())
        pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.05)
    raise TimeoutError(f"chromium offered no page to debug within {timeout} s")


if __name__ == "__main__":  # a hand check: python -m tests.browser URL [SCREENSHOT.png]
    import sys

    page = open_page(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    print(f"title: {page.title}\ncharts: {page.charts}\nsize: {page.size}")
    print("\n".join(page.messages) or "no console messages")
    print("\n".join(page.errors) or "no errors")
    sys.exit(1 if page.errors else 0)
