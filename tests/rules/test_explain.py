"""The sentence a student reads under their grade."""
from podium.rules import FOR_STUDENTS, NOT_YET, CompetitionGrade, Ungraded, explain


def test_slack_with_missed_early_deadline():
    g = CompetitionGrade(competition="hw1p2", window="slack", submission_id=812, private_score=0.7312, days_late=2,
                         base=86.2, raw=86.2, early_penalty=True, early_factor=0.9, final=77.58, slack_used=2,
                         slack_remaining=3)
    assert explain(g) == ("Counted: submission 812 (slack, 2 days late), private 0.7312, base 86.2; "
                          "no early submission, so x0.9 = 77.6; 3 slack days remain.")


def test_late():
    g = CompetitionGrade(competition="hw1p2", window="late", submission_id=813, private_score=0.7312, days_late=3,
                         base=86.2, late_factor=0.9, raw=77.58, final=77.58, slack_remaining=0)
    assert explain(g) == ("Counted: submission 813 (late, 3 days late, x0.9), private 0.7312, base 86.2, grade 77.6; "
                          "0 slack days remain.")


def test_on_time_with_bonus():
    g = CompetitionGrade(competition="hw1p2", window="on_time", submission_id=9, private_score=0.85, base=100.0,
                         bonus=2.5, raw=102.5, final=102.5, slack_remaining=1)
    assert explain(g) == ("Counted: submission 9 (on time), private 0.8500, base 100.0 + bonus 2.5 = 102.5; "
                          "1 slack day remains.")


def test_on_time_without_bonus_and_display_precision():
    g = CompetitionGrade(competition="hw1p2", window="on_time", submission_id=9, private_score=0.7512345, base=90.1,
                         raw=90.1, final=90.1)
    assert explain(g, precision=2) == "Counted: submission 9 (on time), private 0.75, base 90.1."


def test_one_day_late_is_singular():
    g = CompetitionGrade(competition="hw1p2", window="slack", submission_id=5, private_score=0.5, days_late=1,
                         base=40.0, raw=40.0, final=40.0, slack_used=1, slack_remaining=6)
    assert "(slack, 1 day late)" in explain(g)


def test_nothing_counted():
    assert explain(CompetitionGrade(competition="hw1p2", window="none")) == (
        "No scored submission counts for this competition: grade 0.")


def test_a_competition_without_grades_is_explained_by_its_reason():
    why = Ungraded(NOT_YET, "cutoff A = 'top 10%' is a leaderboard position.")
    assert explain(CompetitionGrade(competition="hw1p2", window="none", ungraded=why)) == (
        "No grades yet: cutoff A = 'top 10%' is a leaderboard position.")
    assert explain(CompetitionGrade(competition="hw1p2", window="none", ungraded=why.for_students()),
                   provisional=True) == FOR_STUDENTS[NOT_YET]


def test_after_an_early_release_the_sentence_says_which_score_it_used_and_why_it_is_provisional():
    g = CompetitionGrade(competition="hw1p2", window="slack", submission_id=5, private_score=0.5, days_late=1,
                         base=40.0, raw=40.0, final=40.0, slack_used=1, slack_remaining=6)
    own = explain(g, provisional=True, from_public=True, released=True)
    assert own.startswith("Counted: submission 5 (slack, 1 day late), public 0.5000") and own.endswith(
        "Provisional: submissions received after the early release of the private leaderboard count with their "
        "public scores until their authors' late deadlines have passed.")
    others = explain(g, provisional=True, from_public=False, released=True)
    assert "private 0.5000" in others and "until their authors' late deadlines" in others
    assert "until the private leaderboard is released" in explain(g, provisional=True)
