"""Imported first by the local pool's forkserver: the libraries it loads next compute on one thread.

A trusted worker and the sandboxes it starts take turns on one core. numpy's BLAS (OpenBLAS in its
wheels; MKL or another OpenMP library in other builds) otherwise starts a pool of a thread a core at
its first large product, which spins after each one until its timeout, while the worker waits for its
sandbox: on the core the student's code needs, and counted in the run's CPU. torch is set to one
thread by `grader.grading.worker.prepare`; these libraries read their setting from the environment
when they load, so it is set here, before the forkserver imports them.
"""

import os

from grader.grading.worker import ONE_THREAD

os.environ.update(ONE_THREAD)
