"""What a person's LTI roles in the LMS course make them in the linked Podium course (lti_tool.course_role)."""
from __future__ import annotations

import pytest

from podium.domain import Role
from podium.services.lti_tool import course_role
from tests.lti.platform import (
    ADMINISTRATOR,
    CONTENT_DEVELOPER,
    CONTEXT_ADMINISTRATOR,
    FACULTY,
    INSTRUCTOR,
    LEARNER,
    MENTOR,
    STUDENT,
    TEACHING_ASSISTANT,
)


@pytest.mark.parametrize("roles, role", [
    ([LEARNER], Role.student),
    ([LEARNER, STUDENT], Role.student),
    ([INSTRUCTOR], Role.instructor),
    ([CONTEXT_ADMINISTRATOR], Role.instructor),
    # a teaching assistant is staff, though platforms send the principal Instructor role beside the sub-role
    ([INSTRUCTOR, TEACHING_ASSISTANT], Role.staff),
    ([TEACHING_ASSISTANT], Role.staff),
    (["Instructor"], Role.instructor),  # the short names of older platforms
    (["Learner"], Role.student),
    # roles at the institution or in the system are no course role: an institution's administrator is nobody here
    ([ADMINISTRATOR], None),
    ([FACULTY, STUDENT], None),
    ([MENTOR], None),
    ([CONTENT_DEVELOPER], None),
    ([], None),
])
def test_lms_roles_map_to_one_podium_role(roles, role):
    assert course_role(roles) == role
