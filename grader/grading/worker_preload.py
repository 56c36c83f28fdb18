"""Imported by the local pool's forkserver: a warm trusted worker for every job forked from it."""

import signal

from grader.grading.worker import prepare

# A SIGTERM or SIGHUP sent to the whole process group (a CI job cancelled, the terminal closed) is for
# the run's parent: it stops the workers, and this process leaves when the parent does. Killed by it,
# this process would leave its private bytecode folder behind, and the parent, asking it about its
# workers, would take them for dead and leave them running.
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
prepare(warm=True)
