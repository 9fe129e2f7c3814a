"""Hostile input: generated uploads and course folders, archives built to exhaust memory, oversized requests, and
text written to be run as a spreadsheet formula. Each test states what Podium promises whatever it is given."""
