"""A person's view: the digits and spam reports opened in headless Chromium make no network
request, show their key sections, and leave a screenshot in test-artifacts/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("TRAINCRAFT_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
KEY_SECTIONS = ["Intended use", "Learning curves and the overfitting verdict", "Test metrics", "Calibration", "Fairness", "Worst slices",
                "Would more data help?", "Limitations"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install -y chromium)")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120)


def _page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for, from Chromium's NetLog: request jobs in the file:// page's
    network isolation key (the browser's own background requests carry another key)."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] == start_job and "file://" in str(params.get("network_isolation_key", "")):
            urls.append(params["url"])
    return urls


def _load(page: Path, tmp_path: Path, name: str) -> tuple[str, list[str]]:
    net_log = tmp_path / f"{name}-netlog.json"
    dom = _chromium(tmp_path, f"--log-net-log={net_log}", "--net-log-capture-mode=Everything", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout, [u for u in _page_requests(net_log) if not u.startswith(("file:", "data:"))]


def test_the_network_check_sees_a_page_request(tmp_path) -> None:
    page = tmp_path / "control.html"
    page.write_text('<html><body><img src="http://example.invalid/pixel.png"><p>control</p></body></html>')
    _, remote = _load(page, tmp_path, "control")
    assert remote == ["http://example.invalid/pixel.png"]


def _check(report: Path, tmp_path: Path, name: str) -> None:
    dom, remote = _load(report, tmp_path, name)
    for section in KEY_SECTIONS:
        assert section in dom, section
    assert dom.count("<img") >= 3
    assert remote == [], remote
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"report-{name}.png"
    taken = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,4200", report.as_uri())
    assert taken.returncode == 0 and shot.stat().st_size > 50_000, taken.stderr[-2000:]


def test_digits_report_in_chromium(digits_run, tmp_path) -> None:
    _check(digits_run.run_dir / "report.html", tmp_path, "digits")


@pytest.mark.slow
def test_spam_report_in_chromium(tmp_path, spam_file) -> None:
    import traincraft as tc

    recipe = Path(__file__).resolve().parents[2] / "examples" / "spam" / "recipe.yaml"
    run = tc.train(recipe, recipe={"train": {"epochs": 3}}, name="spam", runs_dir=tmp_path / "runs")
    _check(run.run_dir / "report.html", tmp_path, "spam")
