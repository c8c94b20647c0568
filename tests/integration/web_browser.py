"""Real headless Chromium driven over the DevTools protocol on a pipe (no driver package needed).

``chromium --remote-debugging-pipe`` reads protocol commands on fd 3 and writes answers and
events on fd 4, each message a JSON object ended by a NUL byte. That is the whole transport:
the tests click, type, upload a file, take screenshots and collect downloads through it, in the
same browser an operator runs, against a real server.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class BrowserError(Exception):
    """The browser answered a command with an error, or a page threw."""


def chromium_exe() -> str:
    """The Debian Chromium (scripts/setup.sh installs it); the test fails, never skips, without it."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("headless Chromium is missing: scripts/setup.sh installs Debian's chromium")
    return exe


class Browser:
    """One headless Chromium process and its protocol pipe.

    Args:
        profile: an empty folder for the browser's profile.
        downloads: where the page's downloads land.
        size: the window (width, height) in CSS pixels.
    """

    def __init__(self, profile: Path, downloads: Path, size: tuple[int, int] = (1400, 1000)) -> None:
        self.size = size
        to_r, self._to_w = os.pipe()  # we write commands, the browser reads them on fd 3
        self._from_r, from_w = os.pipe()  # the browser writes on fd 4

        def _fds() -> None:  # in the child, before exec
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen(  # noqa: S603 -- a fixed argument list
            [chromium_exe(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-pipe", "--no-first-run", "--disable-extensions", "--mute-audio",
             f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=_fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: PLW1509
        os.close(to_r)
        os.close(from_w)
        self._next = 0
        self._lock = threading.Lock()
        self._answers: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        downloads.mkdir(parents=True, exist_ok=True)
        self.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads),
                                                  "eventsEnabled": True})

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buf += chunk
            *msgs, buf = buf.split(b"\0")
            with self._cond:
                for raw in msgs:
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self._cond.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout_s: float = 60.0) -> dict[str, Any]:
        """Send one protocol command and wait for its answer (its ``result``)."""
        with self._lock:
            self._next += 1
            mid = self._next
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while mid not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise BrowserError(f"{method}: no answer from the browser")
                self._cond.wait(min(left, 0.5))
            answer = self._answers.pop(mid)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error'].get('message')}")
        return dict(answer.get("result", {}))

    def wait_event(self, match: Callable[[dict[str, Any]], bool], timeout_s: float = 60.0) -> dict[str, Any]:
        """The first event so far (or to come) for which ``match`` is true."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for ev in self.events:
                    if match(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError("the awaited browser event never came")
                self._cond.wait(min(left, 0.5))

    def page(self) -> Page:
        """A new tab, attached."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return Page(self, session)

    def close(self) -> None:
        with contextlib.suppress(BrowserError):
            self.send("Browser.close", timeout_s=10)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)
        self._reader.join(5)
        os.close(self._from_r)


class Page:
    """One tab: navigate, evaluate, click, type, upload, wait, screenshot."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session
        for domain in ("Page", "Runtime", "DOM"):
            self.send(f"{domain}.enable")
        w, h = browser.size
        self.send("Emulation.setDeviceMetricsOverride", {"width": w, "height": h, "deviceScaleFactor": 1,
                                                         "mobile": False})

    def send(self, method: str, params: dict[str, Any] | None = None, timeout_s: float = 60.0) -> dict[str, Any]:
        return self.browser.send(method, params, self.session, timeout_s)

    def errors(self) -> list[str]:
        """Uncaught exceptions and console errors of this tab so far."""
        out = []
        for ev in list(self.browser.events):
            if ev.get("sessionId") != self.session:
                continue
            if ev.get("method") == "Runtime.exceptionThrown":
                d = ev["params"]["exceptionDetails"]
                out.append(str(d.get("exception", {}).get("description") or d.get("text")))
            elif ev.get("method") == "Runtime.consoleAPICalled" and ev["params"]["type"] == "error":
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in ev["params"]["args"]))
        return out

    def goto(self, url: str) -> None:
        """Open ``url`` and wait until the document has loaded."""
        self.send("Page.navigate", {"url": url})
        self.wait("document.readyState === 'complete' && location.href !== 'about:blank'")

    def eval(self, expression: str) -> Any:
        """The value of a JavaScript expression (a promise is awaited); a throw is a BrowserError."""
        res = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                             "returnByValue": True})
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise BrowserError(f"{expression[:80]}: {d.get('exception', {}).get('description') or d.get('text')}")
        return res["result"].get("value")

    def wait(self, expression: str, timeout_s: float = 60.0) -> Any:
        """Poll until ``expression`` is truthy; its value. Fails with the page's status line."""
        deadline = time.monotonic() + timeout_s
        # an element has no JSON value (it would come back as {}, falsy here): a found element is true
        probe = f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()"
        while True:
            v = self.eval(probe)
            if v:
                return v
            if time.monotonic() > deadline:
                status = self.eval("(document.querySelector('#status') || {}).textContent")
                raise BrowserError(f"waited in vain for {expression!r}; page status: {status!r}; "
                                   f"errors: {self.errors()}")
            time.sleep(0.1)

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element (scrolled into view first), once the element
        holds still there and nothing covers it: a page still laying out (an image arriving, a
        table filling) moves its buttons between measuring and clicking, and the click would land
        on whatever took the place."""
        sel = json.dumps(selector)
        where = f"""(() => {{ const e = document.querySelector({sel});
            if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
            const x = r.x + r.width / 2, y = r.y + r.height / 2, hit = document.elementFromPoint(x, y);
            return [x, y, !!hit && (hit === e || e.contains(hit))]; }})()"""
        deadline = time.monotonic() + 10.0
        last = None
        while True:
            box = self.eval(where)
            if box is None:
                raise BrowserError(f"nothing matches {selector!r} to click; errors: {self.errors()}")
            if box[2] and last is not None and box[:2] == last[:2]:
                break
            if time.monotonic() > deadline:
                raise BrowserError(f"{selector!r} did not hold still, uncovered, to be clicked; "
                                   f"errors: {self.errors()}")
            last = box
            time.sleep(0.1)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def type(self, selector: str, text: str) -> None:
        """Focus the field, clear it and type ``text`` as keyboard input."""
        self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus(); e.select && "
                  f"e.select(); }})()")
        self.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Backspace", "code": "Backspace",
                                             "windowsVirtualKeyCode": 8})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": "Backspace", "code": "Backspace",
                                             "windowsVirtualKeyCode": 8})
        self.send("Input.insertText", {"text": text})

    def press(self, key: str, code: int) -> None:
        """One key press (``key`` as in KeyboardEvent.key, ``code`` its Windows virtual key code)."""
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key,
                                                 "windowsVirtualKeyCode": code,
                                                 **({"text": "\r"} if key == "Enter" and kind == "keyDown" else {})})

    def set_value(self, selector: str, value: str) -> None:
        """Set a form control's value the way a picker does (input and change events)."""
        self.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)}); e.value = {json.dumps(value)};
            e.dispatchEvent(new Event('input', {{bubbles: true}}));
            e.dispatchEvent(new Event('change', {{bubbles: true}})); }})()""")

    def upload(self, selector: str, path: Path) -> None:
        """Choose ``path`` in a file input, as the file dialog would."""
        root = self.send("DOM.getDocument")["root"]["nodeId"]
        node = self.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        self.send("DOM.setFileInputFiles", {"nodeId": node, "files": [str(path)]})

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        """A PNG of the page (the whole scrollable page when ``full_page``)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            m = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": self.browser.size[0],
                              "height": max(self.browser.size[1], m["height"]), "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
