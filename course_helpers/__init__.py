"""The demo course's own trusted helpers for its tests (grader.course.extensions): strategies that only one
of its problems uses live here, not in the grader. Imported as `course_helpers` on the trusted side
only; never readable from a sandbox."""
