"""Browser benchmark: how fast the demo's main pages show in Chromium, served as in production.

    .venv/bin/python bench/browser.py [--runs N] [--workers W] [--demo-dir DIR]

The demo course (`podium demo`: 40 students, about 500 scored submissions, one competition released, one in its
late window, two open, one not yet open) is built in a temporary data dir and served by `podium run` (gunicorn,
2 worker processes unless `--workers` says) on a free 127.0.0.1 port. Debian's Chromium, driven by Playwright,
opens each page `--runs` times (7 by default), each time in a new browser context holding the signed-in session
only: no page, picture or style sheet is in the browser's cache, as on a first visit. A page's first run is also the
first request of its kind the server answers: the median hides it, so it is printed for information.

Each page's times, from the start of the navigation (median of the runs, in ms):
- LCP: largest contentful paint, as the page's PerformanceObserver reports it once every picture has arrived;
- load: the end of the load event (every style sheet, script and picture above the fold);
- all: every picture of the page, after scrolling to its end once the load event ended (lazy charts below the fold).
The floor is a static page: a minimal HTML page, answered by the browser itself at the server's address, that
loads /static/podium.css and /static/podium.js from the server; the sign-in page is shown beside it. Target: every
page's LCP, load and all under 1 s on this machine (PASS, or MISS with what is over).

`--demo-dir` serves a demo already built in DIR (by `PODIUM_DATA_DIR=DIR podium demo`) instead of building one.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from course import free_port  # noqa: E402  (bench/course.py)
from rush import start_server, stop_server, wait_for_workers  # noqa: E402  (bench/rush.py)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}
TARGET_MS = 1000.0
PAGE_TIMEOUT_MS = 60_000
STUDENT = "student01@demo.podium.test"
INSTRUCTOR = "instructor@demo.podium.test"
FLOOR_PATH = "/bench-static-floor"
FLOOR_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Floor</title>
<link rel="stylesheet" href="/static/podium.css"><script src="/static/podium.js" defer></script></head>
<body><main><h1>A static page</h1><p>Podium's style sheet and script, and nothing drawn by the server.</p></main>
</body></html>"""

# Reads the page's own measures. Once every picture in view has arrived the largest contentful paint is final
# (nothing larger can appear), so the observer's buffered entries are all there is. A lazy picture below the fold
# is not loaded until it is scrolled to. Every wait gives up after 30 s, and the times then say so.
MEASURE = """async () => {
  const shown = img => img.loading !== "lazy" || img.getBoundingClientRect().top < window.innerHeight;
  const done = () => Array.from(document.images).every(img => img.complete || !shown(img));
  const until = performance.now() + 30000;
  while (!done() && performance.now() < until) await new Promise(r => setTimeout(r, 20));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const lcp = await new Promise(resolve => {
    new PerformanceObserver(list => {
      const entries = list.getEntries();
      resolve(entries.length ? entries[entries.length - 1].startTime : 0);
    }).observe({type: "largest-contentful-paint", buffered: true});
    setTimeout(() => resolve(0), 500);
  });
  const nav = performance.getEntriesByType("navigation")[0];
  return {lcp: lcp, load: nav.loadEventEnd};
}"""
# After the load event: scroll to the end, wait for every picture, and say when the last one arrived.
ALL_PICTURES = """async () => {
  window.scrollTo(0, document.body.scrollHeight);
  const done = () => Array.from(document.images).every(img => img.complete);
  const until = performance.now() + 30000;
  while (!done() && performance.now() < until) await new Promise(r => setTimeout(r, 10));
  const nav = performance.getEntriesByType("navigation")[0];
  const ends = performance.getEntriesByType("resource").map(r => r.responseEnd);
  return Math.max(nav.loadEventEnd, ...ends);
}"""


@dataclass(frozen=True)
class Page:
    who: str  # "student" or "staff"
    name: str
    path: str


@dataclass
class Times:
    lcp: list[float]
    load: list[float]
    all: list[float]

    def median(self, what: str) -> float:
        return statistics.median(getattr(self, what))

    def first(self) -> float:
        return max(self.lcp[0], self.load[0], self.all[0])

    def worst_median(self) -> float:
        return max(self.median("lcp"), self.median("load"), self.median("all"))


def build_demo(data_dir: Path) -> None:
    from podium.runtime import make_runtime
    from podium.services.demo import build_demo as build

    rt = make_runtime(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'podium.db'}")
    rt.db.upgrade()
    build(rt, echo=lambda line: print(f"  {line}"))
    rt.db.dispose()


def demo_pages(data_dir: Path) -> list[Page]:
    """The main pages of the demo for a student and for staff, found in its database."""
    from podium.domain import utcnow
    from podium.runtime import make_runtime
    from podium.services import standing, users
    from podium.services.courses import competition_state, get_course
    from podium.demo import COURSE_SLUG

    rt = make_runtime(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'podium.db'}")
    now = utcnow()
    with rt.db.session() as session:
        course = get_course(session, COURSE_SLUG)
        student = users.get_user(session, STUDENT)
        states = {comp.public_id: competition_state(comp, now) for comp in course.competitions}
        released = next(c for c in course.competitions if states[c.public_id].label == "released")
        running = next(c for c in course.competitions if states[c.public_id].key == "open"
                       and standing.submissions_of(session, c, student))
        submission = standing.submissions_of(session, running, student)[0]
        slug = course.slug
        ids = running.public_id, released.public_id, submission.id, student.id
    rt.db.dispose()
    open_id, released_id, submission_id, student_id = ids
    return [
        Page("student", "course", f"/courses/{slug}"),
        Page("student", "competition (open)", f"/competitions/{open_id}"),
        Page("student", "competition (released)", f"/competitions/{released_id}"),
        Page("student", "leaderboard (open)", f"/competitions/{open_id}/leaderboard"),
        Page("student", "leaderboard (released)", f"/competitions/{released_id}/leaderboard"),
        Page("student", "my submissions", f"/competitions/{open_id}/submissions"),
        Page("student", "submission", f"/submissions/{submission_id}"),
        Page("student", "grades", f"/courses/{slug}/grades"),
        Page("student", "profile", "/profile"),
        Page("staff", "overview", f"/staff/{slug}"),
        Page("staff", "competition (open)", f"/staff/competitions/{open_id}"),
        Page("staff", "competition (released)", f"/staff/competitions/{released_id}"),
        Page("staff", "student", f"/staff/{slug}/students/{student_id}"),
        Page("staff", "grades", f"/staff/{slug}/grades"),
        Page("staff", "people", f"/staff/{slug}/people"),
        Page("staff", "submissions", f"/staff/{slug}/submissions"),
    ]


def signed_in_state(browser, url: str, email: str) -> dict:
    from podium.demo import DEMO_PASSWORD

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{url}/sign-in")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("nav.account .who")
    state = context.storage_state()
    context.close()
    return state


def measure(browser, url: str, state: dict | None) -> tuple[float, float, float]:
    """One visit in a fresh context (an empty cache): LCP, load event end, every picture; ms from the start."""
    context = browser.new_context(viewport=VIEWPORT, storage_state=state)
    context.route(f"**{FLOOR_PATH}", lambda route: route.fulfill(status=200, content_type="text/html",
                                                                 body=FLOOR_HTML))
    try:
        page = context.new_page()
        response = page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        if response is None or response.status != 200:
            raise SystemExit(f"{url} answered {response and response.status}")
        first = page.evaluate(MEASURE)
        every = page.evaluate(ALL_PICTURES)
        return first["lcp"], first["load"], every
    finally:
        context.close()


def run_pages(url: str, pages: list[Page], runs: int) -> dict[Page, Times]:
    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        states = {"student": signed_in_state(browser, url, STUDENT), "staff": signed_in_state(browser, url, INSTRUCTOR),
                  "anyone": None}
        for page in pages:
            times = Times([], [], [])
            for _ in range(runs):
                lcp, load, every = measure(browser, url + page.path, states[page.who])
                times.lcp.append(lcp)
                times.load.append(load)
                times.all.append(every)
            results[page] = times
            print(f"  {page.who:8} {page.name:24} {times.worst_median():7.0f} ms", flush=True)
        browser.close()
    return results


def report(results: dict[Page, Times], floor: Times, runs: int, workers: int) -> list[str]:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())  # other work on the machine slows every page alike
    lines = [f"Chromium (headless), {VIEWPORT['width']}x{VIEWPORT['height']}, an empty cache each visit; "
             f"`podium run --workers {workers}` on SQLite, 127.0.0.1; {os.cpu_count()} CPUs, load average {load}; "
             f"median of {runs} runs, ms",
             f"{'page':34} {'LCP':>6} {'load':>6} {'all':>6}   {'x floor (LCP, load)':>20}  {'1st run':>7}"]
    for page, times in results.items():
        ratio = f"{times.median('lcp') / floor.median('lcp'):5.1f}x {times.median('load') / floor.median('load'):5.1f}x"
        lines.append(f"{page.who + ' ' + page.name:34} {times.median('lcp'):6.0f} {times.median('load'):6.0f} "
                     f"{times.median('all'):6.0f}   {ratio:>20}  {times.first():7.0f}")
    over = [f"{page.who} {page.name} ({times.worst_median():.0f} ms)" for page, times in results.items()
            if page.who != "anyone" and times.worst_median() >= TARGET_MS]
    verdict = "PASS" if not over else "MISS: " + ", ".join(over)
    lines.append(f"target: every page's LCP, load and all under {TARGET_MS / 1000:.0f} s: {verdict}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--demo-dir", type=Path, help="serve the demo already built in this data dir")
    args = parser.parse_args()
    if args.runs < 1 or args.workers < 1:
        parser.error("--runs and --workers must be at least 1")

    with tempfile.TemporaryDirectory(prefix="podium-bench-browser-") as tmp:
        data_dir = args.demo_dir.resolve() if args.demo_dir else Path(tmp) / "data"
        if not args.demo_dir:
            print("building the demo course ...", flush=True)
            build_demo(data_dir)
        pages = demo_pages(data_dir)
        env = {**os.environ, "PODIUM_DATA_DIR": str(data_dir),
               "DATABASE_URL": f"sqlite:///{data_dir / 'podium.db'}", "PYTHONPATH": str(ROOT)}
        port = free_port()
        server = start_server(env, port, args.workers, Path(tmp) / "server.log")
        try:
            wait_for_workers(server, args.workers, port)
            url = f"http://127.0.0.1:{port}"
            print(f"opening {len(pages) + 2} pages {args.runs} times each ...", flush=True)
            floors = [Page("anyone", "static page (the floor)", FLOOR_PATH), Page("anyone", "sign-in page", "/sign-in")]
            started = time.monotonic()
            results = run_pages(url, floors + pages, args.runs)
            print(f"  ({time.monotonic() - started:.0f} s)")
        finally:
            stop_server(server)
    print()
    print("\n".join(report(results, results[floors[0]], args.runs, args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
