"""Test problems with known minima, shared by the L-BFGS benchmark and the landscape lab."""

from ravine.problems import mgh
from ravine.problems.base import Problem

__all__ = ["Problem", "mgh"]
