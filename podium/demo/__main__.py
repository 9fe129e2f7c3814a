"""`python -m podium.demo [DEST]`: rewrite the committed definitions after editing course.py.

DEST defaults to `competitions`; data files are written by `podium demo`, never here.
"""
import sys
from pathlib import Path

from podium.demo import write_definitions

if __name__ == "__main__":
    print(write_definitions(Path(sys.argv[1] if len(sys.argv) > 1 else "competitions")))
