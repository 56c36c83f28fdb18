"""The course folder as data: problem and assignment specs, submission layouts, notebooks, the
course's trusted helpers, mutants as diffs, and the scaffold for a new problem."""
