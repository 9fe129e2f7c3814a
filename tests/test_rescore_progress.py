"""`podium rescore` says how it is going: a progress bar on a terminal, drawn before the first file is scored (a
pseudo-terminal here, as a person's shell gives), and one plain line per submission otherwise (a log, CI)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from sqlalchemy import select

from podium.models import AuditEvent, Submission
from tests.conftest import predictions

CID = "c1-hw1"
WAIT = 120  # seconds: a bound for the subprocess, never a measure


def with_submissions(podium_cli, course_dir, tmp_path, count: int) -> list[int]:
    assert podium_cli("load", course_dir).exit_code == 0
    assert podium_cli("users", "add", "ada@example.edu", "--course", "c1").exit_code == 0
    path = tmp_path / "pred.csv"
    path.write_text(predictions())
    ids = []
    for _ in range(count):
        result = podium_cli("submit", CID, path, "--as", "ada@example.edu")
        assert result.exit_code == 0, result.stderr
        ids.append(int(result.stdout.split('"id": ')[1].split(",")[0]))
    return ids


def test_without_a_terminal_each_step_is_one_line(rt, podium_cli, course_dir, tmp_path):
    first, second = with_submissions(podium_cli, course_dir, tmp_path, 2)
    result = podium_cli("rescore", CID)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == ["rescoring 2 submissions of c1-hw1",
                                          f"1/2 submission {first}: scored",
                                          f"2/2 submission {second}: scored"]
    assert "\r" not in result.stderr and "\x1b" not in result.stderr  # no bar redrawn into a log
    assert result.stdout == "2 scored, 0 failed\n"


def test_a_failed_rescore_says_so_on_its_line(rt, podium_cli, course_dir, tmp_path):
    [only] = with_submissions(podium_cli, course_dir, tmp_path, 1)
    with rt.db.session() as session:
        path = rt.settings.located(session.get(Submission, only).file_path)
    path.write_text("id,prediction\n0,1\n")  # a file that no longer fits the solution
    result = podium_cli("rescore", CID)
    assert result.stderr.splitlines()[-1] == f"1/1 submission {only}: failed"
    assert result.stdout == "0 scored, 1 failed\n"


def test_nothing_to_rescore_says_so(rt, podium_cli, course_dir):
    assert podium_cli("load", course_dir).exit_code == 0
    result = podium_cli("rescore", CID)
    assert result.exit_code == 0 and result.stderr == "rescoring 0 submissions of c1-hw1\n"
    assert result.stdout == "0 scored, 0 failed\n"
    with rt.db.session() as session:
        assert session.scalar(select(AuditEvent.details).where(AuditEvent.action == "competition.rescore")) == {
            "submissions": 0}


def run_in_a_terminal(*args: str) -> tuple[int, str]:
    """`podium ARGS` with its standard output and error on a pseudo-terminal; its exit status and all it wrote."""
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "podium.cli", *args], stdin=subprocess.DEVNULL,
                                   stdout=follower, stderr=follower, env=dict(os.environ, TERM="xterm"))
    finally:
        os.close(follower)
    written = bytearray()
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(leader)
    return process.wait(timeout=WAIT), written.decode()


def test_on_a_terminal_a_bar_is_drawn_at_once_and_moves_with_each_file(rt, podium_cli, course_dir, tmp_path):
    with_submissions(podium_cli, course_dir, tmp_path, 3)
    status, shown = run_in_a_terminal("rescore", CID)
    assert status == 0, shown
    frames = [frame for frame in shown.split("\r") if "rescoring c1-hw1" in frame]
    # Drawn at 0 before the first file is scored, then redrawn in place for each file.
    assert [frame.split("]")[1].split()[0] for frame in frames] == ["0/3", "1/3", "2/3", "3/3"]
    assert "[" in frames[0] and "#" in frames[-1]
    assert "submission" in frames[-1] and "scored" in frames[-1]
    assert not any(line.startswith("1/3 submission") for line in re.split(r"[\r\n]+", shown))  # no plain lines
    assert shown.rstrip().endswith("3 scored, 0 failed")
