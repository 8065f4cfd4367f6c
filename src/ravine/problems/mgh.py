"""The Moré-Garbow-Hillstrom test set: 35 unconstrained problems with standard starts and known minima.

``PROBLEMS`` maps a name to a :class:`~ravine.problems.base.Problem`, for every problem of the paper at the sizes
it gives results for (Watson n = 6, 9, 12; the penalty functions n = 4, 10; Chebyquad n = 8, 9, 10) or, where f*
does not depend on n, at n = 10 (12 for extended Powell, whose n must be a multiple of 4; n = 5, m = 10 for the
linear functions 32-34). Any other size comes from the factories (``watson(n=20)``).

Example:
    >>> from ravine.problems import mgh
    >>> p = mgh.get("rosenbrock")
    >>> x = p.start().requires_grad_()
    >>> float(p(x)), p.f_star
    (24.199999999999996, 0.0)
    >>> [q.name for q in mgh.PROBLEMS.values() if q.dim == 2][:3]
    ['rosenbrock', 'freudenstein_roth', 'powell_badly_scaled']

Reference: J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing Unconstrained Optimization Software", ACM
Transactions on Mathematical Software 7(1):17-41, 1981 (problem numbers as in its section 3), and the authors'
code, TOMS Algorithm 566.
"""

from __future__ import annotations

from ravine.problems._mgh import PAPER
from ravine.problems.base import Problem
from ravine.problems.mgh_algebraic import (
    beale,
    brown_badly_scaled,
    freudenstein_roth,
    helical_valley,
    powell_badly_scaled,
    powell_singular,
    rosenbrock,
    wood,
)
from ravine.problems.mgh_fitting import (
    bard,
    biggs_exp6,
    box_3d,
    brown_dennis,
    gaussian,
    gulf,
    jennrich_sampson,
    kowalik_osborne,
    meyer,
    osborne_1,
    osborne_2,
)
from ravine.problems.mgh_linear import linear_full_rank, linear_rank_1, linear_rank_1_zero
from ravine.problems.mgh_sized import (
    brown_almost_linear,
    broyden_banded,
    broyden_tridiagonal,
    chebyquad,
    discrete_boundary_value,
    discrete_integral_equation,
    extended_powell,
    extended_rosenbrock,
    penalty_1,
    penalty_2,
    trigonometric,
    variably_dimensioned,
    watson,
)

__all__ = ["NUMBER", "PAPER", "PROBLEMS", "by_number", "get", "names"]


def _standard() -> list[tuple[int, Problem]]:
    """Every problem with its number, in the paper's order, at the sizes described in the module docstring."""
    return [
        (1, rosenbrock()),
        (2, freudenstein_roth()),
        (3, powell_badly_scaled()),
        (4, brown_badly_scaled()),
        (5, beale()),
        (6, jennrich_sampson()),
        (7, helical_valley()),
        (8, bard()),
        (9, gaussian()),
        (10, meyer()),
        (11, gulf()),
        (12, box_3d()),
        (13, powell_singular()),
        (14, wood()),
        (15, kowalik_osborne()),
        (16, brown_dennis()),
        (17, osborne_1()),
        (18, biggs_exp6()),
        (19, osborne_2()),
        *((20, watson(n)) for n in (6, 9, 12)),
        (21, extended_rosenbrock(10)),
        (22, extended_powell(12)),
        *((23, penalty_1(n)) for n in (4, 10)),
        *((24, penalty_2(n)) for n in (4, 10)),
        (25, variably_dimensioned(10)),
        (26, trigonometric(10)),
        (27, brown_almost_linear(10)),
        (28, discrete_boundary_value(10)),
        (29, discrete_integral_equation(10)),
        (30, broyden_tridiagonal(10)),
        (31, broyden_banded(10)),
        (32, linear_full_rank(5, 10)),
        (33, linear_rank_1(5, 10)),
        (34, linear_rank_1_zero(5, 10)),
        *((35, chebyquad(n)) for n in (8, 9, 10)),
    ]


_NUMBERED = _standard()
PROBLEMS: dict[str, Problem] = {p.name: p for _, p in _NUMBERED}
NUMBER: dict[str, int] = {p.name: k for k, p in _NUMBERED}


def names() -> list[str]:
    """The registry's names, in the paper's order."""
    return list(PROBLEMS)


def get(name: str) -> Problem:
    """The problem called ``name`` (see :func:`names`)."""
    try:
        return PROBLEMS[name]
    except KeyError:
        raise ValueError(f"unknown MGH problem {name!r}; known: {', '.join(PROBLEMS)}") from None


def by_number(number: int) -> list[Problem]:
    """The registry's instances of problem ``number`` (1-35 in the paper's numbering)."""
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 35:
        raise ValueError(f"number must be an integer in [1, 35], got {number!r}")
    return [p for k, p in _NUMBERED if k == number]
