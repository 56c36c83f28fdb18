"""What a course hands out: the student kit and the Gradescope autograder bundle, each carrying the
grader as an installable folder."""
