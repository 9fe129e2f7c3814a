"""Generated code for the demo's code uploads, and for the integrity tests and benchmark: programs written alone
(functions drawn from a large vocabulary of names, operations and constants, from a seeded RNG), so that two of them
share no more than short idioms, as two students writing alone do; and a copier's renaming of one."""
from __future__ import annotations

import io
import random
import re
import zipfile

NAMES = ("alpha beta gamma delta epsilon loss model data batch grad step rate size count total value index weight "
         "bias layer hidden output inputs target mask score logits probs labels epoch optimizer scheduler buffer "
         "window stride kernel channel feature sample noise scale shift offset").split()
CALLS = ("np.mean np.sum np.max np.min np.sqrt np.log np.exp np.abs len sorted sum max min abs round "
         "torch.tensor torch.zeros torch.ones math.floor math.ceil").split()
STARTER = '''import numpy as np


def load_data(path):
    """Read the training data (given to every student)."""
    with open(path) as handle:
        rows = [line.strip().split(",") for line in handle]
    return np.array(rows[1:], dtype=float)


def write_submission(ids, predictions, path):
    with open(path, "w") as handle:
        handle.write("id,label\\n")
        for row_id, prediction in zip(ids, predictions):
            handle.write(f"{row_id},{prediction}\\n")
'''


def statement(rng: random.Random, depth: int) -> str:
    pad = "    " * depth
    x, y, z = rng.sample(NAMES, 3)
    kind = rng.randrange(6)
    if kind == 0:
        return f"{pad}{x} = {rng.choice(CALLS)}({y}) {rng.choice('+-*/')} {rng.randrange(1, 1000)}"
    if kind == 1:
        return f"{pad}for {x} in range({rng.randrange(2, 64)}):\n{pad}    {y} += {x} * {z}"
    if kind == 2:
        return f"{pad}if {x} {rng.choice(['>', '<', '==', '!='])} {y}:\n{pad}    {z} = {rng.choice(CALLS)}({x}, {y})"
    if kind == 3:
        return f"{pad}{x}.append({y}[{rng.randrange(10)}:{rng.randrange(10, 99)}])"
    if kind == 4:
        return f"{pad}{x}, {y} = {z} // {rng.randrange(2, 50)}, {z} % {rng.randrange(2, 50)}"
    return f"{pad}{x} = [{y} ** {rng.randrange(2, 5)} for {y} in {z} if {y}]"


def function(rng: random.Random) -> str:
    args = rng.sample(NAMES, rng.randrange(1, 4))
    body = [statement(rng, 1) for _ in range(rng.randrange(3, 9))]
    return f"def {rng.choice(NAMES)}_{rng.randrange(10 ** 6)}({', '.join(args)}):\n" + "\n".join(body) + \
        f"\n    return {rng.choice(args)}\n"


def program(rng: random.Random, chars: int) -> str:
    """About `chars` characters of Python written by one student."""
    parts, size = ["import numpy as np\n"], 0
    while size < chars:
        parts.append(function(rng))
        size += len(parts[-1])
    return "\n\n".join(parts)


def renamed(code: str, seed: int = 0) -> str:
    """The same program with every name of the vocabulary renamed, and a comment added: what a copier does."""
    rng = random.Random(seed)
    new = {name: f"{name[:2]}_{rng.randrange(10 ** 4)}" for name in NAMES}
    out = re.sub(r"\b(" + "|".join(NAMES) + r")\b", lambda m: new[m.group(1)], code)
    return "# my own solution\n" + out


def zipped(files: dict[str, str | bytes]) -> bytes:
    """A zip archive (deflated) of the given files, by name inside it, as a student's archiver makes one."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
