"""Imported by the local pool's forkserver: a warm trusted worker for every job forked from it."""

from grader.grading.worker import prepare

prepare(warm=True)
