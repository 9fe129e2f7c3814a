"""Academic integrity: who may have copied whom, from the code and the predictions students handed in.

`code_similarity` ranks pairs of students by how much of their code matches (copydetect's fingerprints) and marks
the matching parts of one pair; `predictions` ranks pairs by the wrong answers they share on the Private rows and
finds identical prediction files. Both take plain values and import nothing of the web, the database or the
services: podium.services.integrity reads what they need and keeps the report.
"""
