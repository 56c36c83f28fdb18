"""Trusted side, a whole class: the grading session (assignment, store, zygote), the local pool and
Dask runners, the bank's self-validation and mutation analysis."""
