"""What the server benchmarks share: the HW1P2-sized course folder they load, a free port, an upload's body."""
from __future__ import annotations

import shutil
import socket
import textwrap
import uuid
from datetime import datetime
from pathlib import Path


def write_hw1p2_course(root: Path, solution: Path, *, slug: str, title: str, opens: datetime, ontime: datetime,
                       late: datetime, daily_limit: int) -> Path:
    """A course folder with one accuracy competition, hw1p2, on `solution` (bench/scoring.py's HW1P2 data)."""
    course = root / slug
    comp = course / "hw1p2"
    comp.mkdir(parents=True)

    def wallclock(instant: datetime) -> str:
        return instant.strftime("%Y-%m-%d %H:%M:%S")

    (course / "course.toml").write_text(textwrap.dedent(f"""
        [course]
        slug = "{slug}"
        title = "{title}"
        timezone = "UTC"

        [policy]
        daily_limit = {daily_limit}
    """))
    (comp / "competition.toml").write_text(textwrap.dedent(f"""
        [competition]
        slug = "hw1p2"
        title = "Frame-level classification of speech"

        [schedule]
        opens = "{wallclock(opens)}"
        ontime = "{wallclock(ontime)}"
        late = "{wallclock(late)}"

        [evaluation]
        metric = "accuracy"
        id_column = "id"
        solution = "solution.csv"

        [grading]
        cutoffs = {{ A = 0.64, B = 0.55, C = 0.45, D = 0.02 }}
    """))
    shutil.copyfile(solution, comp / "solution.csv")
    return course


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multipart(content: bytes, description: str, file_name: str = "predictions.csv") -> tuple[bytes, str]:
    """The body and content type of a REST upload, built by hand so the client costs next to nothing."""
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\n{description}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            f'Content-Type: text/csv\r\n\r\n').encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
