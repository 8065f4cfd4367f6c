"""L-BFGS: the limited-memory quasi-Newton method, as a drop-in ``torch.optim.LBFGS``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim.line_search import C1, C2, strong_wolfe
from ravine.rules import _checks

LINE_SEARCHES = (None, "strong_wolfe")


class LBFGS(torch.optim.Optimizer):
    r"""Limited-memory BFGS with torch's constructor, closure API and state layout, and a strong-Wolfe line search.

    Each iteration moves along ``d = -H g``, where ``H`` is the BFGS approximation of the inverse Hessian built from
    the last ``history_size`` pairs ``s_i = x_{i+1} - x_i``, ``y_i = g_{i+1} - g_i``, applied to the gradient
    ``g`` by the two-loop recursion (Nocedal & Wright, algorithm 7.4)::

        q = g
        for i = k-1, ..., k-m:   alpha_i = rho_i s_i.q;  q = q - alpha_i y_i        (rho_i = 1 / y_i.s_i)
        r = gamma q,             gamma = s_{k-1}.y_{k-1} / y_{k-1}.y_{k-1}           (N&W eq. 7.20)
        for i = k-m, ..., k-1:   beta = rho_i y_i.r;     r = r + (alpha_i - beta) s_i
        d = -r

    A pair is stored only if ``y.s > eps * y.y`` (eps of the dtype), which keeps ``H`` positive definite; a strong
    Wolfe step guarantees ``y.s >= (1 - c2) |g.s| > 0`` (N&W, section 6.1), so only a degenerate one is skipped.

    The step length is ``lr`` (``min(1, 1/|g|_1) lr`` on the very first iteration, whose direction is ``-g``).
    With ``line_search_fn="strong_wolfe"`` it is only the first trial of a line search (N&W algorithms 3.5 and
    3.6, in :func:`ravine.optim.line_search.strong_wolfe`) for a step with
    ``f(x + a d) <= f(x) + c1 a g.d`` and ``|g(x + a d).d| <= c2 |g.d|``, ``c1 = 1e-4``, ``c2 = 0.9`` (the values
    N&W recommend for quasi-Newton methods, section 3.1). If the line search finds no decrease, the memory is
    dropped and the iteration is retried from steepest descent; if that fails too, ``step`` stops.

    One call of ``step(closure)`` runs up to ``max_iter`` iterations and calls ``closure`` at most ``max_eval``
    times, line-search evaluations included. It stops early when ``max|g| <= tolerance_grad``, when the
    directional derivative ``g.d`` rises above ``-tolerance_change``, or when the last step moved no coordinate by
    more than ``tolerance_change`` or changed f by less than it -- torch's rules.

    Args:
        params: the parameters (one group; any shapes; float or complex, all on one device).
        lr: the step length (>= 0), or the line search's first trial (> 0); default 1.
        max_iter: iterations per ``step`` call (>= 1; default 20).
        max_eval: closure evaluations per ``step`` call (>= 1; default ``max_iter * 5 // 4`` as in torch, raised to
            ``max_iter + 1`` with the line search so that it is never starved; with the line search it must be
            >= 2 -- one evaluation at the start, at least one in the search).
        tolerance_grad: first-order optimality tolerance on ``max|g|`` (>= 0; default 1e-7).
        tolerance_change: tolerance on changes of f and x (>= 0; default 1e-9).
        history_size: the number m of (s, y) pairs kept (>= 1; default 100).
        line_search_fn: ``None`` (fixed step ``lr``) or ``"strong_wolfe"``.

    State: ``optimizer.state[first parameter]`` holds torch's keys -- ``d``, ``t``, ``old_dirs`` (the y_i),
    ``old_stps`` (the s_i), ``ro``, ``H_diag`` (gamma), ``prev_flat_grad``, ``prev_loss``, ``n_iter``,
    ``func_evals`` -- so ``state_dict()`` round-trips and a checkpoint loads into ``torch.optim.LBFGS`` too.

    Differences from ``torch.optim.LBFGS``: the curvature test is relative (torch skips pairs with
    ``y.s <= 1e-10``, which discards every pair once steps get small), the line search honours ``max_eval``
    exactly (pytorch#91581) and is the N&W algorithm with Fletcher's safeguards, and a failed line search
    restarts from steepest descent. Without a line search the iterates are torch's, bit for bit.

    Example:
        >>> import torch, ravine
        >>> x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
        >>> opt = ravine.optim.LBFGS([x], history_size=10, max_iter=100, line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 4) for v in x.tolist()]
        [1.0, 1.0]

    References:
        J. Nocedal and S. J. Wright, Numerical Optimization, 2nd ed., Springer 2006: algorithm 7.4 (two-loop
        recursion), eq. 7.20 (initial scaling), algorithms 3.5 and 3.6 (line search), section 3.1 (c1, c2).
        D. C. Liu and J. Nocedal, On the limited memory BFGS method for large scale optimization, Mathematical
        Programming 45, 1989.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        _torch_checks.lr(lr)
        _positive_int("max_iter", max_iter)
        _checks.non_negative("tolerance_grad", tolerance_grad)
        _checks.non_negative("tolerance_change", tolerance_change)
        _positive_int("history_size", history_size)
        _checks.choice("line_search_fn", line_search_fn, LINE_SEARCHES)  # type: ignore[arg-type]
        if max_eval is None:
            max_eval = max_iter * 5 // 4
            if line_search_fn is not None:
                max_eval = max(max_eval, max_iter + 1)
        _positive_int("max_eval", max_eval)
        if line_search_fn is not None:
            _checks.positive("lr", lr)  # the line search's first trial step
        if line_search_fn is not None and max_eval < 2:
            raise ValueError(
                f"max_eval must be >= 2 with line_search_fn={line_search_fn!r} (one evaluation at the start, at "
                f"least one in the line search), got {max_eval}"
            )
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(
                f"LBFGS takes one parameter group (its memory spans all parameters), got {len(self.param_groups)}"
            )
        self._params: list[Tensor] = self.param_groups[0]["params"]
        for p in self._params:
            if not (p.is_floating_point() or p.is_complex()):
                raise ValueError(f"LBFGS optimises float or complex parameters, got dtype {p.dtype}")

    # -- the flat view of all parameters -----------------------------------------------------------------------
    def _flat_grad(self) -> Tensor:
        views = []
        for p in self._params:
            if p.grad is None:
                g = p.new_zeros(p.shape)
            elif p.grad.is_sparse:
                g = p.grad.to_dense()
            else:
                g = p.grad
            views.append((torch.view_as_real(g) if g.is_complex() else g).reshape(-1))
        return torch.cat(views)

    def _real(self) -> list[Tensor]:
        return [torch.view_as_real(p) if p.is_complex() else p for p in self._params]

    def _add(self, step: float | Tensor, direction: Tensor) -> None:
        """``x <- x + step * direction`` (``direction`` is the flat vector)."""
        offset = 0
        for p in self._real():
            n = p.numel()
            p.add_(direction[offset : offset + n].view_as(p), alpha=step)
            offset += n

    def _move_to(self, origin: list[Tensor], step: float, direction: Tensor) -> None:
        """``x <- origin + step * direction``, computed exactly as ``_add`` computes it from ``origin``."""
        for p, o in zip(self._real(), origin, strict=True):
            p.copy_(o)
        self._add(step, direction)

    def _fixed_step(
        self, closure: Callable[[], Any], loss: float, g: Tensor, d: Tensor, t: float | Tensor, evaluate: bool
    ) -> tuple[float, Tensor, int]:
        """``x <- x + t d``; then f and g there, unless ``evaluate`` is False (torch leaves the last iteration's
        values to the next ``step``, which starts by evaluating). Returns (f, g, evaluations used)."""
        self._add(t, d)
        if not evaluate:
            return loss, g, 0
        return float(closure()), self._flat_grad(), 1

    def _line_search(
        self, closure: Callable[[], Any], loss: float, g: Tensor, d: Tensor, t: float, budget: int, tolerance: float
    ) -> tuple[float, Tensor, float, int]:
        """The strong-Wolfe step along ``d``, leaving x there. Returns (f, g, step, evaluations used)."""
        origin = [p.clone(memory_format=torch.contiguous_format) for p in self._real()]

        def evaluate(a: float) -> tuple[float, Tensor]:
            self._move_to(origin, a, d)
            return float(closure()), self._flat_grad()

        found = strong_wolfe(evaluate, loss, g, d, t, c1=C1, c2=C2, max_evals=budget, tolerance_change=tolerance)
        self._move_to(origin, found.step, d)
        return found.loss, found.grad, found.step, found.evals

    # -- the algorithm -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` zeroes the gradients, computes the loss, calls
        ``backward`` and returns the loss. Returns the loss at the start (the first closure value), as torch."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that re-evaluates the loss and its gradient")
        closure = torch.enable_grad()(closure)
        group = self.param_groups[0]
        lr = group["lr"]
        if isinstance(lr, Tensor):
            # kept a tensor, as torch does: the first step min(1, 1/|g|_1) * lr is then rounded in the dtype
            # torch's promotion gives (a float64 lr with float32 parameters: float64), not the parameters'
            lr = lr.detach().reshape(())
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search = group["history_size"], group["line_search_fn"]

        # All state lives on the first parameter, as in torch, so load_state_dict casts and places it.
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = closure()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if g.abs().max() <= tolerance_grad:
            return first_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_g, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")
        restart = False
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            fresh = state["n_iter"] == 1 or restart
            if fresh:
                d = g.neg()
                old_dirs, old_stps, ro, h_diag = [], [], [], 1
            else:
                h_diag = remember(old_stps, old_dirs, ro, d.mul(t), g.sub(prev_g), history_size, h_diag)
                d = two_loop_direction(g, old_stps, old_dirs, ro, h_diag)
            prev_g = g.clone(memory_format=torch.contiguous_format) if prev_g is None else prev_g.copy_(g)
            prev_loss = loss
            t = min(1.0, 1.0 / g.abs().sum()) * lr if fresh else lr
            restart = False
            if g.dot(d) > -tolerance_change:
                break

            if line_search is None:
                loss, g, used = self._fixed_step(closure, loss, g, d, t, evaluate=n_iter != max_iter)
            else:
                loss, g, t, used = self._line_search(closure, loss, g, d, float(t), max_eval - evals, tolerance_change)
            evals += used
            state["func_evals"] += used
            if line_search is not None and t == 0.0:  # no decrease along d
                if not old_dirs:
                    break
                restart = True  # forget the memory and try steepest descent
            if n_iter == max_iter or evals >= max_eval or g.abs().max() <= tolerance_grad:
                break
            if restart:
                continue
            if d.mul(t).abs().max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(
            d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro,
            H_diag=h_diag, prev_flat_grad=prev_g, prev_loss=prev_loss,
        )  # fmt: skip
        return first_loss


def remember(
    s: list[Tensor],
    y: list[Tensor],
    rho: list[Tensor],
    s_new: Tensor,
    y_new: Tensor,
    history_size: int,
    gamma: float | Tensor,
) -> float | Tensor:
    """Store the pair (s_new, y_new), dropping the oldest beyond ``history_size``, if ``y.s > eps y.y``; returns
    the scaling ``gamma = s.y / y.y`` of ``H_0`` (N&W eq. 7.20), unchanged if the pair is skipped."""
    ys, yy = y_new.dot(s_new), y_new.dot(y_new)
    if not ys > torch.finfo(ys.dtype).eps * yy:
        return gamma
    if len(s) == history_size:
        s.pop(0)
        y.pop(0)
        rho.pop(0)
    s.append(s_new)
    y.append(y_new)
    rho.append(1.0 / ys)
    return ys / yy


def two_loop_direction(g: Tensor, s: list[Tensor], y: list[Tensor], rho: list[Tensor], gamma: float | Tensor) -> Tensor:
    """``d = -H g`` by the L-BFGS two-loop recursion (Nocedal & Wright, algorithm 7.4), with ``H_0 = gamma I``.

    Starting from ``q = -g`` instead of ``g`` carries the sign through both loops (negation is exact), so the
    result is ``-H g`` with no extra pass; it is also the order of operations of ``torch.optim.LBFGS``.
    """
    q = g.neg()
    alpha = [None] * len(s)
    for i in range(len(s) - 1, -1, -1):
        alpha[i] = s[i].dot(q) * rho[i]
        q.add_(y[i], alpha=-alpha[i])
    r = torch.mul(q, gamma)
    for i in range(len(s)):
        beta = y[i].dot(r) * rho[i]
        r.add_(s[i], alpha=alpha[i] - beta)
    return r


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer in [1, inf), got {value!r}")
