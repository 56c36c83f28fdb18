"""Seeding the random number generators that graded code draws from, cheaply enough to do per call."""

from __future__ import annotations

import random

import numpy
import torch


def seed_all(seed: int = 0) -> None:
    """Seed Python's, NumPy's and torch's CPU generators.

    `torch.manual_seed` also queues a seed for CUDA, recording a formatted stack trace each time
    while CUDA is not initialised: a tenth of a millisecond that grading pays on every call. Grading
    runs on the CPU, where the CPU generator alone gives exactly the same random streams.
    """
    torch.default_generator.manual_seed(seed)
    random.seed(seed)
    numpy.random.seed(seed)
