"""Deterministic data for the demo course: solutions, sample submissions and students' predictions.

Every function takes a ``numpy.random.Generator`` and never touches the global RNG, so a seed fixes
every byte. A solution frame has the competition's id column, its target column and ``Usage``
(Public, Private or Ignored), in that order. Predictions are built so that their metric moves
smoothly with a ``quality`` in [0, 1]: that is what lets the simulated students improve over time.
"""
from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from podium.demo.course import COMPETITIONS, PUBLIC_FRACTION, CompetitionSpec, competition_spec

USAGE_COLUMN = "Usage"

SPEECH_CLASSES = 138            # hw1p2: 46 phonemes x 3 states
FACE_IDENTITIES = 2_300         # hw2p2-classification: the course's number of identities
VERIFICATION_IMAGES = 6_000     # hw2p2-verification: the pool the trial pairs are drawn from
VERIFICATION_PEOPLE = 600
VERIFICATION_IGNORED = 12       # a handful of Ignored rows, to show the feature in one competition

# The phoneme map of the course's hw3p2 handout without its blank: one printable character per
# phoneme, none of them a comma or a quote, so predictions need no CSV quoting.
PHONEME_SYMBOLS = tuple("+~!-@aAhowybcdDerEfgHiIjklmnNGOYpRsS.tTuUvW?zZ")
PHONEMES_PER_UTTERANCE = 78

CHARACTERS_PER_TRANSCRIPT = 100
# A small read-speech vocabulary, most frequent first (frequencies follow Zipf's law below).
VOCABULARY = tuple("""
THE AND OF TO A IN HE THAT WAS IT HIS I YOU WITH FOR HAD AS HER SHE AT BUT ON NOT BE HIM IS BY SO
ALL THIS THEY WHICH FROM ONE WERE SAID MY ME THERE WOULD WHEN WHAT AN HAVE NO THEM IF OUT UP WE BEEN
COULD INTO UPON MORE NOW LITTLE MAN THEN ABOUT SOME VERY WILL LIKE ONLY TIME SEE OVER DID GREAT BEFORE
LONG AGAIN DOWN OLD CAME KNOW HAND GOOD HOUSE NEVER MUCH MIGHT WAY DAY HEAD THOUGHT AWAY EYES LIFE
NIGHT MOTHER FATHER WATER ROOM DOOR LIGHT WORLD VOICE HEART FACE LEFT HOME TOLD ASKED CALLED WHITE
CHILDREN WINDOW MORNING RIVER SILENCE GARDEN LETTER QUEEN SOLDIER ANSWERED DON'T IT'S I'M THAT'S
CAN'T WASN'T HE'S YOU'RE DIDN'T I'LL
""".split())

# How quality maps to the expected metric. Chosen with the cutoffs in course.py so that a quality
# around 0.7 to 0.85 earns an A, and a class of students with skills between 0.4 and 0.95 spreads
# over every grade.
ACCURACY_CEILING = 0.9          # accuracy at quality 1; chance (1 / classes) at quality 0
AUC_CEILING = 0.99              # AUC at quality 1; 0.5 at quality 0
EDIT_RATE_FLOOR = 0.02          # random edits per truth character at quality 1 ...
EDIT_RATE_CEILING = 0.7         # ... and at quality 0
FLOAT_FORMAT = "%.6f"           # scores: six decimals are more than any AUC needs


# --- solutions -------------------------------------------------------------------------------------


def solution_frame(slug: str, rng: np.random.Generator) -> pd.DataFrame:
    """The hidden solution of a demo competition: id, target, Usage."""
    spec = competition_spec(slug)
    ids, truth = TRUTH_BUILDERS[slug](spec, rng)
    frame = pd.DataFrame({spec.id_column: ids, spec.target_column: truth})
    ignored = VERIFICATION_IGNORED if slug == "hw2p2-verification" else 0
    frame[USAGE_COLUMN] = usage_labels(len(frame), rng, ignored=ignored)
    return frame


def usage_labels(rows: int, rng: np.random.Generator, ignored: int = 0) -> np.ndarray:
    """Exactly `ignored` Ignored rows, then 30 % of the rest Public and 70 % Private, at random places."""
    order = rng.permutation(rows)
    public = round(PUBLIC_FRACTION * (rows - ignored))
    usage = np.full(rows, "Private", dtype=object)
    usage[order[:ignored]] = "Ignored"
    usage[order[ignored:ignored + public]] = "Public"
    return usage


def zipf_weights(count: int, exponent: float = 1.0, offset: float = 2.0) -> np.ndarray:
    # Real class and symbol frequencies are skewed (silence frames, common phonemes, "THE").
    weights = 1.0 / (np.arange(count) + offset) ** exponent
    return weights / weights.sum()


def speech_frame_truth(spec: CompetitionSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    prior = rng.permutation(zipf_weights(SPEECH_CLASSES, exponent=0.8))
    return np.arange(spec.rows), rng.choice(SPEECH_CLASSES, size=spec.rows, p=prior)


def face_classification_truth(spec: CompetitionSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array([f"{i:06d}.jpg" for i in range(spec.rows)], dtype=object)
    labels = np.resize(np.arange(FACE_IDENTITIES), spec.rows)  # every identity equally often
    return ids, rng.permutation(labels)


def face_verification_truth(spec: CompetitionSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Half the trials pair two images of one person (truth 1), half two different people (truth 0)."""
    images_per_person = VERIFICATION_IMAGES // VERIFICATION_PEOPLE
    # Row p lists the images of person p: image file numbers are shuffled across people.
    images_of = rng.permutation(VERIFICATION_IMAGES).reshape(VERIFICATION_PEOPLE, images_per_person)
    positives = distinct_pairs(same_person_pairs(images_of, spec.rows, rng), spec.rows // 2)
    negatives = distinct_pairs(different_people_pairs(images_of, spec.rows, rng), spec.rows - spec.rows // 2)
    pairs = np.concatenate([positives, negatives])
    truth = np.concatenate([np.ones(len(positives), dtype=int), np.zeros(len(negatives), dtype=int)])
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))  # trials listed by image, as a test list would be
    ids = np.array([f"img{a:06d}.jpg img{b:06d}.jpg" for a, b in pairs[order]], dtype=object)
    return ids, truth[order]


def same_person_pairs(images_of: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    people, per_person = images_of.shape
    person = rng.integers(people, size=count)
    first = rng.integers(per_person, size=count)
    second = (first + rng.integers(1, per_person, size=count)) % per_person
    return np.column_stack([images_of[person, first], images_of[person, second]])


def different_people_pairs(images_of: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    people, per_person = images_of.shape
    person = rng.integers(people, size=count)
    other = (person + rng.integers(1, people, size=count)) % people
    return np.column_stack([images_of[person, rng.integers(per_person, size=count)],
                            images_of[other, rng.integers(per_person, size=count)]])


def distinct_pairs(pairs: np.ndarray, count: int) -> np.ndarray:
    """The first `count` pairs that are new as unordered pairs, smaller image first."""
    ordered = np.sort(pairs, axis=1)
    _, first_seen = np.unique(ordered[:, 0] * VERIFICATION_IMAGES + ordered[:, 1], return_index=True)
    distinct = ordered[np.sort(first_seen)]
    if len(distinct) < count:
        raise ValueError("too few distinct verification pairs; enlarge the image pool")
    return distinct[:count]


def phoneme_truth(spec: CompetitionSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    prior = rng.permutation(zipf_weights(len(PHONEME_SYMBOLS), exponent=0.9))
    lengths = np.clip(rng.normal(PHONEMES_PER_UTTERANCE, 22, spec.rows).round(), 20, 180).astype(int)
    symbols = np.array(PHONEME_SYMBOLS)
    strings = ["".join(symbols[rng.choice(len(symbols), size=n, p=prior)]) for n in lengths]
    return np.arange(spec.rows), np.array(strings, dtype=object)


def transcript_truth(spec: CompetitionSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    prior = zipf_weights(len(VOCABULARY))
    lengths = np.clip(rng.normal(CHARACTERS_PER_TRANSCRIPT, 30, spec.rows), 25, 240)
    return np.arange(spec.rows), np.array([sentence(target, prior, rng) for target in lengths], dtype=object)


def sentence(characters: float, prior: np.ndarray, rng: np.random.Generator) -> str:
    """Words drawn by frequency until the sentence is `characters` long."""
    words: list[str] = []
    while sum(map(len, words)) + len(words) < characters:
        words.extend(VOCABULARY[i] for i in rng.choice(len(VOCABULARY), size=8, p=prior))
        while len(words) > 1 and sum(map(len, words[:-1])) + len(words) - 1 >= characters:
            words.pop()
    return " ".join(words)


TRUTH_BUILDERS = {
    "hw1p2": speech_frame_truth,
    "hw2p2-classification": face_classification_truth,
    "hw2p2-verification": face_verification_truth,
    "hw3p2": phoneme_truth,
    "hw4p2": transcript_truth,
}


# --- reading solutions back ------------------------------------------------------------------------


def metric_of(solution: pd.DataFrame) -> str:
    """The metric a solution frame is scored with, recognised by its target column's name."""
    metrics = {spec.metric for spec in COMPETITIONS if spec.target_column == solution.columns[1]}
    if len(metrics) != 1:
        raise ValueError(f"not a demo solution frame: columns {list(solution.columns)}")
    return metrics.pop()


def read_solution(path: Path) -> pd.DataFrame:
    # No NA parsing: a transcript is text, whatever it spells.
    return pd.read_csv(path, keep_default_na=False, na_filter=False)


def csv_bytes(frame: pd.DataFrame, header: bool = True) -> bytes:
    """A frame as the bytes of a CSV file, identical on every platform.

    Written by hand rather than with DataFrame.to_csv, which is 2 to 4 times slower on these simple
    columns and the demo writes hundreds of uploads.
    """
    columns = [formatted_column(frame[name]) for name in frame.columns]
    lines = [",".join(csv_field(str(name)) for name in frame.columns)] if header else []
    lines.extend(map(",".join, zip(*columns)))
    return ("\n".join(lines) + "\n").encode()


def formatted_column(column: pd.Series) -> list[str]:
    values = column.to_numpy().tolist()
    if pd.api.types.is_float_dtype(column):
        return [FLOAT_FORMAT % value for value in values]
    if pd.api.types.is_integer_dtype(column):
        return list(map(str, values))
    texts = list(map(str, values))
    if not needs_quoting("".join(texts)):  # the usual case, checked in one pass
        return texts
    return list(map(csv_field, texts))


def needs_quoting(text: str) -> bool:
    return "," in text or '"' in text or "\n" in text or "\r" in text


def csv_field(text: str) -> str:
    """RFC 4180 quoting, needed only when a field holds a comma, a quote or a line break."""
    if needs_quoting(text):
        return '"' + text.replace('"', '""') + '"'
    return text


# --- sample submissions and predictions ------------------------------------------------------------


def sample_submission_frame(solution: pd.DataFrame) -> pd.DataFrame:
    """The ids of the solution in its order, with the placeholder prediction Kaggle samples carry."""
    id_column, target_column = solution.columns[:2]
    placeholder = SAMPLE_PLACEHOLDERS[metric_of(solution)](solution[target_column])
    return pd.DataFrame({id_column: solution[id_column].to_numpy(), target_column: placeholder})


def most_frequent_symbol(truth: pd.Series) -> str:
    # One symbol: an obviously poor but well-formed prediction, never blank.
    counts = pd.Series(list("".join(truth).replace(" ", ""))).value_counts()
    return str(counts.index[0])


SAMPLE_PLACEHOLDERS = {
    "accuracy": lambda truth: 0,
    "roc_auc": lambda truth: 0.5,
    "mean_levenshtein": most_frequent_symbol,
}


def prediction_frame(solution: pd.DataFrame, quality: float, rng: np.random.Generator) -> pd.DataFrame:
    """A student's upload: every solution id once, rows shuffled, predictions as good as `quality`."""
    if not 0.0 <= quality <= 1.0:
        raise ValueError(f"quality must be within [0, 1], got {quality}")
    id_column, target_column = solution.columns[:2]
    truth = solution[target_column].to_numpy()
    predicted = PREDICTORS[metric_of(solution)](truth, quality, rng)
    order = rng.permutation(len(solution))
    return pd.DataFrame({id_column: solution[id_column].to_numpy()[order], target_column: predicted[order]})


def predicted_labels(truth: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """Exactly round(p * n) labels right, p rising linearly from chance to ACCURACY_CEILING."""
    classes, index = np.unique(truth, return_inverse=True)
    chance = 1.0 / len(classes)
    correct = round((chance + (ACCURACY_CEILING - chance) * quality) * len(truth))
    wrong = rng.permutation(len(truth))[correct:]
    # A wrong label is any other class: shift the class index by 1 .. classes - 1.
    index = index.copy()
    index[wrong] = (index[wrong] + rng.integers(1, len(classes), size=len(wrong))) % len(classes)
    return classes[index]


def predicted_scores(truth: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """Scores from two unit-variance Gaussians whose separation gives the intended AUC.

    For equal-variance Gaussians d' apart, AUC = Phi(d' / sqrt(2)), so d' = sqrt(2) * Phi^-1(AUC).
    """
    target_auc = 0.5 + (AUC_CEILING - 0.5) * quality
    separation = np.sqrt(2.0) * NormalDist().inv_cdf(target_auc)
    evidence = rng.normal(size=len(truth)) + separation * (truth.astype(float) - 0.5)
    return np.round(1.0 / (1.0 + np.exp(-evidence)), 6)


def predicted_strings(truth: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """Each truth with random substitutions, deletions and insertions, about `rate` per character.

    Vectorised over all characters at once: the demo makes hundreds of these uploads.
    """
    rate = EDIT_RATE_FLOOR + (EDIT_RATE_CEILING - EDIT_RATE_FLOOR) * (1.0 - quality)
    characters = np.frombuffer("".join(truth).encode("ascii"), dtype=np.uint8)
    alphabet = np.unique(characters)
    codes = np.searchsorted(alphabet, characters)
    rows = np.repeat(np.arange(len(truth)), [len(text) for text in truth])

    substituted = rng.random(len(codes)) < rate / 2
    codes[substituted] = (codes[substituted] + rng.integers(1, len(alphabet), substituted.sum())) % len(alphabet)
    kept = rng.random(len(codes)) >= rate / 4
    inserted = rng.random(len(codes)) < rate / 4
    # Slot 2i holds character i (unless deleted), slot 2i + 1 a character inserted after it.
    slots = np.empty(2 * len(codes), dtype=np.intp)
    slots[0::2] = codes
    slots[1::2] = rng.integers(len(alphabet), size=len(codes))
    present = np.empty(2 * len(codes), dtype=bool)
    present[0::2] = kept
    present[1::2] = inserted
    text = alphabet[slots[present]].tobytes().decode("ascii")
    row_lengths = np.bincount(np.repeat(rows, 2)[present], minlength=len(truth))
    bounds = np.concatenate([[0], np.cumsum(row_lengths)])
    strings = [text[start:end] for start, end in zip(bounds[:-1], bounds[1:])]
    # A blank prediction would read back as a missing value; one visible symbol keeps the row well formed.
    filler = chr(alphabet[alphabet != ord(" ")][0])
    return np.array([s if s.strip() else filler for s in strings], dtype=object)


PREDICTORS = {
    "accuracy": predicted_labels,
    "roc_auc": predicted_scores,
    "mean_levenshtein": predicted_strings,
}
