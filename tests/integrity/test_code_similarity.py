"""Code similarity (podium.integrity.code_similarity): copies top the ranking, starter code and shared idioms do not.
No database: these run once."""
from __future__ import annotations

import json
import random

from podium.integrity.code_similarity import (BASE, K, CodeFile, _filtered_file, _kgram_hashes, code_files, code_text,
                                             marked_files, notebook_code, rank_pairs)
from tests.integrity.generated import STARTER, program, renamed


def class_of(n: int, seed: int = 1, chars: int = 3000) -> dict[int, list[CodeFile]]:
    rng = random.Random(seed)
    return {s: [CodeFile("main.py", program(rng, chars))] for s in range(n)}


def test_a_renamed_copy_tops_the_ranking_with_its_parts_marked():
    students = class_of(12)
    students[12] = [CodeFile("solution.py", renamed(students[4][0].text)),
                    CodeFile("extra.py", program(random.Random(99), 1500))]
    pairs = rank_pairs(students, limit=5)
    top = pairs[0]
    assert (top.a, top.b) == (4, 12)
    assert top.share_a > 0.95  # all of 4's code is in 12's
    assert top.share_b < top.share_a  # 12 wrote more besides
    assert all(p.similarity < 0.3 for p in pairs[1:])
    # The marks cover the copied file nearly whole, and only a little of the file 12 wrote alone.
    a = {f.name: f for f in marked_files(students[4], top.marks_a)}
    b = {f.name: f for f in marked_files(students[12], top.marks_b)}
    assert a["main.py"].marked_chars > 0.9 * len(a["main.py"].text)
    assert b["solution.py"].marked_chars > 0.9 * len(b["solution.py"].text)
    assert b.get("extra.py") is None or b["extra.py"].marked_chars < 0.3 * len(b["extra.py"].text)
    # The pieces give the text back whole, marked parts included.
    assert "".join(piece for piece, _ in b["solution.py"].pieces()) == b["solution.py"].text
    assert any(marked for _, marked in b["solution.py"].pieces())


def test_two_students_sharing_only_the_starter_code_are_not_flagged():
    students = class_of(6, seed=2)
    for s in (1, 3):  # both kept the starter file and wrote the rest alone
        students[s].append(CodeFile("starter.py", STARTER))
    with_starter = rank_pairs(students, [CodeFile("starter.py", STARTER)], limit=None)
    pair = next((p for p in with_starter if {p.a, p.b} == {1, 3}), None)
    assert pair is None or pair.similarity < 0.2
    # Without the starter excluded, the same two are the top pair: the exclusion is what keeps them out.
    without = rank_pairs(students, limit=1)
    assert {without[0].a, without[0].b} == {1, 3}


def test_notebooks_are_reduced_to_their_code_cells():
    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["# My analysis\n", "Some words."]},
        {"cell_type": "code", "source": ["x = 1\n", "y = x + 2\n"], "outputs": [{"text": "3"}]},
        {"cell_type": "raw", "source": "ignored"},
        {"cell_type": "code", "source": "print(y)"},
    ], "metadata": {}, "nbformat": 4}
    text = notebook_code(json.dumps(notebook).encode())
    assert "x = 1\ny = x + 2" in text and "print(y)" in text
    assert "analysis" not in text and "ignored" not in text and '"3"' not in text
    assert notebook_code(b"not json") is None


def test_a_notebook_copy_of_a_script_is_found():
    students = class_of(5, seed=3)
    source = students[2][0].text
    cells = [{"cell_type": "code", "source": part} for part in source.split("\n\n\n")]
    notebook = json.dumps({"cells": [{"cell_type": "markdown", "source": "Solution"}, *cells]}).encode()
    students[5] = code_files([("work/solution.ipynb", notebook), ("work/data.csv", b"id,label\n1,2\n")])
    assert [f.name for f in students[5]] == ["work/solution.ipynb"]  # the CSV is no code
    top = rank_pairs(students, limit=1)[0]
    assert {top.a, top.b} == {2, 5} and top.similarity > 0.9


def test_what_is_code():
    assert code_text("a/model.py", b"x = 1\n") == "x = 1\n"
    assert code_text("weights.pt", b"x = 1\n") is None
    assert code_text("README.md", b"# hi\n") is None
    assert code_text("binary.py", b"\0\1\2") is None
    assert code_text("empty.py", b"  \n") is None


def test_fewer_than_two_students_give_no_pairs():
    assert rank_pairs(class_of(1)) == []
    assert rank_pairs({1: [], 2: []}) == []


def test_other_languages_go_through_copydetects_own_filter():
    rng = random.Random(8)

    def c_function() -> str:
        a, b, c = rng.sample(["x", "y", "z", "w", "v", "u"], 3)
        return f"int f{rng.randrange(10 ** 6)}(int {a}, int {b}) {{\n  int {c} = {a} * {rng.randrange(99)} + {b};\n" \
               f"  return {c};\n}}"

    def c_program() -> str:
        return "\n".join(c_function() for _ in range(40))

    students = {s: [CodeFile("main.c", c_program())] for s in range(4)}
    students[4] = [CodeFile("copy.c", "/* mine */\n" + students[1][0].text.replace("int x", "int q"))]
    top = rank_pairs(students, limit=1)[0]
    assert {top.a, top.b} == {1, 4} and top.similarity > 0.8
    assert top.marks_a and top.marks_b


def test_python_is_filtered_to_its_shape_and_each_letter_leads_back_to_what_it_stands_for():
    text = ('class Net(Base):  # the model\n'
            '    def  forward(self, x="a b"):\n'
            '        """Doc."""\n'
            '        return len(x) + 1e-3\n')
    filtered, way = _filtered_file(CodeFile("net.py", text), way=True)
    # Names V, the function's name F, the class's O, strings S; keywords, builtins, numbers and operators kept;
    # comments and white space gone.
    assert filtered == "classO(V):defF(V,V=S):Sreturnlen(V)+1V-3"
    pieces = [text[start:end] for start, end in zip(*way.spans)]
    assert pieces == [*"class", "Net", "(", "Base", ")", ":", *"def", "forward", "(", "self", ",", "x", "=", '"a b"',
                      ")", ":", '"""Doc."""', *"return", *"len", "(", "x", ")", "+", "1", "e", "-", "3"]


def test_a_fingerprint_is_the_k_grams_polynomial_hash_the_same_in_every_process():
    # Reports are kept on disk and read by other processes: a fingerprint must not depend on the process (Python's
    # `hash` of a string does), so it is a fixed function of the k-gram's characters, computed here one by one.
    text = "defF(V,V=S):returnlen(V)+1V-3é"

    def one_by_one(kgram: str) -> int:
        value = 0
        for char in kgram:
            value = (value * int(BASE) + ord(char)) % 2 ** 64
        return value

    assert _kgram_hashes(text).tolist() == [one_by_one(text[i:i + K]) for i in range(len(text) - K + 1)]
    assert len(_kgram_hashes(text[:K - 1])) == 0


def test_a_deeply_nested_notebook_inside_an_archive_is_no_code_and_breaks_nothing():
    # A .ipynb inside a zip is not parsed at upload (only a single .ipynb is), so one student's nested JSON must not
    # stop the report of the whole class: it is read as no code.
    nested = [("deep.ipynb", b"[" * 100_000), ("deeper.ipynb", b'{"cells": ' + b"[" * 100_000),
              ("main.py", b"x = 1\n")]
    assert [f.name for f in code_files(nested)] == ["main.py"]
    assert notebook_code(b"{" * 100_000) is None
