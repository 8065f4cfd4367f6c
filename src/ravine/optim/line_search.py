"""A line search that finds a step satisfying the strong Wolfe conditions, within a budget of evaluations.

Nocedal & Wright, *Numerical Optimization*, 2nd ed. (2006), section 3.5: algorithm 3.5 brackets an interval that
contains acceptable steps, algorithm 3.6 ("zoom") narrows it by cubic interpolation (their eq. 3.59).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

C1 = 1e-4  # sufficient decrease: "c1 is chosen to be quite small, say c1 = 1e-4" (N&W, section 3.1)
C2 = 0.9  # curvature: "typical values ... 0.9 when the search direction is chosen by a Newton or quasi-Newton
# method" (N&W, section 3.1, after eq. 3.7)
# The next bracketing trial lies in [a + (a - a_prev), a + TAU_1 (a - a_prev)]: Fletcher, Practical Methods of
# Optimization, 2nd ed. (1987), section 2.6, with his recommended tau_1 = 9.
TAU_1 = 9.0
# Each zoom trial lies in [lo + TAU_2 (hi - lo), hi - TAU_3 (hi - lo)], so the bracket shrinks geometrically and
# trials stay nearer the best point lo: Fletcher's sectioning interval (same section, tau_2 = 0.1, tau_3 = 0.5).
TAU_2, TAU_3 = 0.1, 0.5
# Differences of f below NOISE * eps * |f| (eps of the gradient's dtype) are taken as rounding noise: two such
# values are not ordered by comparing them (the slope decides), and once the bracket cannot show a decrease above
# the noise, zooming stops.
NOISE = 100.0


@dataclass(frozen=True)
class Trial:
    """The objective along the line at one step: phi(step), the full gradient there, and phi'(step) = g . d."""

    step: float
    loss: float
    grad: Tensor
    slope: float


@dataclass(frozen=True)
class LineSearchResult:
    """Where the search stopped.

    Attributes:
        step: the accepted step length (0.0 if no trial decreased the objective).
        loss, grad: the objective and its gradient at that step (the initial ones if ``step`` is 0).
        evals: objective evaluations used.
        wolfe: True if the step satisfies both strong Wolfe conditions; False if the budget or
            ``tolerance_change`` ended the search first (the step then still satisfies sufficient decrease).
    """

    step: float
    loss: float
    grad: Tensor
    evals: int
    wolfe: bool


def strong_wolfe(
    evaluate: Callable[[float], tuple[float, Tensor]],
    loss: float,
    grad: Tensor,
    direction: Tensor,
    step: float,
    *,
    c1: float = C1,
    c2: float = C2,
    max_evals: int = 25,
    tolerance_change: float = 1e-9,
) -> LineSearchResult:
    r"""Find a step ``a`` along ``direction`` that satisfies the strong Wolfe conditions.

    With ``phi(a) = f(x + a d)``:

        phi(a) <= phi(0) + c1 a phi'(0)        (sufficient decrease, N&W eq. 3.7a)
        |phi'(a)| <= c2 |phi'(0)|              (curvature, N&W eq. 3.7b)

    Bracketing (N&W algorithm 3.5) tries growing steps until one is acceptable or an interval is known to contain
    acceptable steps; zoom (N&W algorithm 3.6) then shrinks that interval, placing each trial at the minimiser of
    the cubic that matches phi and phi' at both ends (N&W eq. 3.59), safeguarded into Fletcher's sectioning
    interval ``[lo + 0.1 (hi - lo), hi - 0.5 (hi - lo)]``; extrapolation while bracketing uses Fletcher's
    ``[a + (a - a_prev), a + 9 (a - a_prev)]``.
    A trial where f is not finite counts as too long a step. Values of f within rounding noise of each other
    (``NOISE * eps * |f|``) count as equal, not as an increase, so the slope decides between them; and zooming
    stops once both ends of the bracket are within noise of f(x) and the linear model ``a phi'(0)`` predicts less
    change than noise across it -- at a minimum's noise floor, where comparing values of f decides nothing.
    ``evaluate`` is never called more than ``max_evals`` times.

    Args:
        evaluate: ``a -> (f(x + a d), grad f(x + a d))``.
        loss, grad: f and its gradient at ``x`` (a = 0).
        direction: the search direction d; must be a descent direction (``grad . d < 0``).
        step: the first trial step (> 0).
        c1, c2: the Wolfe constants, ``0 < c1 < c2 < 1``.
        max_evals: the evaluation budget (>= 1).
        tolerance_change: stop once the bracket moves x by less than this in every coordinate.

    Returns:
        A :class:`LineSearchResult`.

    References:
        J. Nocedal and S. J. Wright, Numerical Optimization, 2nd ed., Springer 2006, section 3.5.
        R. Fletcher, Practical Methods of Optimization, 2nd ed., Wiley 1987, section 2.6 (tau_1, tau_2, tau_3).
    """
    slope0 = float(grad.dot(direction))
    if not slope0 < 0:
        raise ValueError(f"direction must be a descent direction (grad . direction < 0), got {slope0}")
    d_max = float(direction.abs().max())
    eps = torch.finfo(grad.dtype).eps
    noise = NOISE * eps * abs(loss)
    origin = Trial(0.0, loss, grad, slope0)
    evals = 0

    def probe(a: float) -> Trial:
        nonlocal evals
        evals += 1
        f, g = evaluate(a)
        return Trial(a, f, g, float(g.dot(direction)))

    def decreases(t: Trial) -> bool:
        return math.isfinite(t.loss) and math.isfinite(t.slope) and t.loss <= loss + c1 * t.step * slope0

    def flat_enough(t: Trial) -> bool:
        return abs(t.slope) <= -c2 * slope0

    def result(t: Trial, wolfe: bool) -> LineSearchResult:
        return LineSearchResult(t.step, t.loss, t.grad, evals, wolfe)

    def higher(t: Trial, than: Trial) -> bool:
        # N&W compare phi(t) >= phi(than); values within rounding noise of each other are not ordered by that
        # comparison, and the slope at t decides instead (below), as when t is lower.
        return t.loss - than.loss > NOISE * eps * max(abs(t.loss), abs(than.loss))

    def hopeless(lo: Trial, hi: Trial) -> bool:
        # Both ends within rounding noise of f(x), and even the linear model predicts less change than that over
        # the whole bracket: no comparison of f can show a decrease (a minimum at the noise floor).
        predicted = -slope0 * max(lo.step, hi.step)
        return predicted <= noise and abs(lo.loss - loss) <= noise and abs(hi.loss - loss) <= noise

    def zoom(lo: Trial, hi: Trial) -> LineSearchResult:
        # Invariants (N&W, p. 61): lo satisfies sufficient decrease and has the least f seen so far;
        # phi'(lo) (hi.step - lo.step) < 0, so the interval contains acceptable steps.
        while evals < max_evals and abs(hi.step - lo.step) * d_max >= tolerance_change:
            if hopeless(lo, hi):
                break
            t = probe(_zoom_step(lo, hi))
            if not decreases(t) or higher(t, lo):
                hi = t
                continue
            if flat_enough(t):
                return result(t, True)
            if t.slope * (hi.step - lo.step) >= 0:
                hi = lo
            lo = t
        return result(lo, False)

    previous, first = origin, True
    while evals < max_evals:
        t = probe(step)
        if not decreases(t) or (not first and higher(t, previous)):
            return zoom(previous, t)
        if flat_enough(t):
            return result(t, True)
        if t.slope >= 0:
            return zoom(t, previous)
        step, previous, first = _extrapolated_step(previous, t), t, False
    return result(previous, False)


def cubic_minimizer(a: Trial, b: Trial) -> float:
    """The minimiser of the cubic through (a.step, a.loss) and (b.step, b.loss) with slopes a.slope, b.slope.

    N&W eq. 3.59; ``nan`` if the cubic has no local minimiser (or the data are not finite).
    """
    if a.step == b.step:
        return math.nan
    d1 = a.slope + b.slope - 3 * (a.loss - b.loss) / (a.step - b.step)
    disc = d1 * d1 - a.slope * b.slope
    if not (math.isfinite(disc) and disc >= 0):
        return math.nan
    d2 = math.copysign(math.sqrt(disc), b.step - a.step)
    denominator = b.slope - a.slope + 2 * d2
    if denominator == 0:
        return math.nan
    return b.step - (b.step - a.step) * (b.slope + d2 - d1) / denominator


def _zoom_step(lo: Trial, hi: Trial) -> float:
    width = hi.step - lo.step  # signed: hi may lie on either side of lo
    near, far = lo.step + TAU_2 * width, hi.step - TAU_3 * width
    a = cubic_minimizer(lo, hi) if math.isfinite(hi.loss) and math.isfinite(hi.slope) else math.nan
    if not math.isfinite(a):
        return (near + far) / 2
    return min(max(a, min(near, far)), max(near, far))


def _extrapolated_step(previous: Trial, current: Trial) -> float:
    width = current.step - previous.step
    low, high = current.step + width, current.step + TAU_1 * width
    a = cubic_minimizer(previous, current)
    if not math.isfinite(a):
        return high
    return min(max(a, low), high)
