"""Open a web export (``zoo export NAME --format web``) in headless Chromium and collect what the
page computed: its self-check against Keras' outputs, its latency, and its model's answers.

The folder is served on 127.0.0.1; the page POSTs its results to ``?report=/report`` when it is
done, and this server hands them back. Uses the system browser (Debian's ``chromium``): no
Playwright or Selenium download. ``screenshot`` takes a PNG of the finished page.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_browser():
    """The system Chromium's path, or None."""
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm"}

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.reports.append(json.loads(body or b"{}"))
        self.server.reported.set()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


class PageServer:
    """``with PageServer(folder) as server: server.url(...)`` serves ``folder`` on a free port."""

    def __init__(self, folder):
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(folder)))
        self._httpd.reports, self._httpd.reported = [], threading.Event()

    def __enter__(self):
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def url(self, **query):
        query = {**query, "report": "/report"}
        return f"http://127.0.0.1:{self._httpd.server_port}/index.html?{urlencode(query)}"

    def wait(self, timeout):
        if not self._httpd.reported.wait(timeout):
            raise TimeoutError(f"the page sent no results within {timeout} s")
        return self._httpd.reports[-1]


def _chromium(browser, profile, *args):
    return [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}", *args]


def open_page(folder, timeout=180, browser=None, screenshot=None, **query):
    """Run the page in ``folder`` to completion -> the results it reported. ``screenshot``: also
    save a PNG of the finished page there."""
    browser = browser or find_browser()
    if browser is None:
        raise FileNotFoundError("no Chromium found (apt-get install chromium)")
    with PageServer(folder) as server, \
            tempfile.TemporaryDirectory(prefix="zoo-chromium-", ignore_cleanup_errors=True) as profile:
        # Its own process group: Chromium's renderer and helper processes go with it.
        process = subprocess.Popen(_chromium(browser, profile, server.url(**query)), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            results = server.wait(timeout)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if screenshot:
            # A second visit under a virtual time budget, which --screenshot waits for (the page
            # leaves out its timings there: virtual time stands still while WebAssembly runs).
            subprocess.run(_chromium(browser, profile, f"--screenshot={screenshot}", "--window-size=1000,900",
                                     "--virtual-time-budget=120000", server.url(screenshot=1, **query)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout, check=False)
    return results


if __name__ == "__main__":
    import sys

    print(json.dumps(open_page(Path(sys.argv[1]), screenshot=sys.argv[2] if len(sys.argv) > 2 else None), indent=1))
