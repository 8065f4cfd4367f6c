"""The live doctor: two calls per step in any training loop, findings as they appear, a report at the end."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import torch
from torch import Tensor, nn

from ravine.diagnose import anatomy, curvature, measures
from ravine.diagnose import trace as T
from ravine.diagnose.detect import Diagnosis, diagnose
from ravine.diagnose.findings import Finding, Report
from ravine.diagnose.logs.jsonl import JsonlWriter
from ravine.diagnose.thresholds import Thresholds

_FLUSH_EVERY = 64
_ACTIVATION_RUN = 20  # activation statistics: at least every step / 20 steps ...
_BURST_SHARE = 4  # ... on consecutive steps until a quarter of a dead-unit window is seen, so that a window
# spans at most 4 sampling intervals and units that die mid-run show within ~step / 5 steps, not never
_SAMPLES_RUN = 100  # sampled measures: at least every step / 100 steps
_NORM_RUN = 200  # the global gradient norm: every step up to step 400, then every step / 200
_HALF_EVERY, _HALF_RUN = 10, 50  # the half-step probe (with a closure): every 10 steps, or step / 50


class Doctor:
    """Watches a training run and names what goes wrong: divergence, exploding or vanishing gradients, dead or
    saturated units, plateaus, saddles, a learning rate too low or too high, overfitting.

    Per step it reads the loss, the global norm of the raw gradients (before any clipping) and the learning
    rate (the norm every step up to step 400, then every ``step / 200`` steps); every ``sample_every`` steps
    (or ``step / 100``, whichever is longer) it also measures per-layer gradient norms, the update-to-weight
    ratio and the step agreement ``cos(-g_{t+1}, dw_t)``, and activation statistics every ``sample_every``
    (or ``step / 20``) steps (forward hooks attached for that step only). The statistics judge windows that
    are fractions of the run, so a fixed number of samples per window is enough: that keeps the cost at a few
    per cent.
    With a ``closure``, or a ``loss_fn`` and the step's ``batch``, it can probe the curvature (Hessian
    eigenvalues by Hessian-vector products, and the preconditioned sharpness against the optimiser's stability
    limit) when a verdict hinges on it.

    Args:
        model: the model being trained.
        optimizer: any ``torch.optim``-compatible optimiser (the learning rate is read from ``param_groups``).
        activations: ``"auto"`` hooks every activation module with a flat region (ReLU, GELU, tanh, sigmoid,
            ...; warns with :class:`NoActivationsWarning` if there is none); ``"required"`` raises
            :class:`NoActivationsError` instead; a list of modules hooks exactly those; ``None`` hooks nothing.
        sample_every: steps between sampled measurements (>= 1).
        check_every: steps before the first live check; later checks come every ``max(check_every, step / 3)``
            steps, and at once when a loss or gradient turns non-finite (the report at the end always checks
            everything).
        log: path of a JSONL log the doctor writes (``ravine doctor LOG`` reads it back).
        on_finding: called with each finding when it first appears at warning or error severity.
        echo: print a line to stderr when a finding first appears.
        thresholds: decision thresholds (:class:`Thresholds`).
        loss_fn: ``loss_fn(model(inputs), targets)`` recomputes a batch loss; with it, ``after_backward(loss,
            batch=(inputs, targets))`` lets the doctor probe the curvature without a closure.

    Example:
        >>> import torch
        >>> from ravine.diagnose import Doctor
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> with Doctor(model, opt, echo=False) as doctor:
        ...     for _ in range(50):
        ...         x = torch.randn(16, 4)
        ...         opt.zero_grad(); loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean(); loss.backward()
        ...         doctor.after_backward(loss); opt.step(); doctor.after_step()
        ...     report = doctor.report()
        >>> report.ok
        True

    References:
        Schneider et al., "Cockpit", NeurIPS 2021; Zhang et al., "AUTOTRAINER", ICSE 2021; Wardat et al.,
        "DeepDiagnosis", ICSE 2022; Cohen et al., "Gradient descent on neural networks typically occurs at the
        edge of stability", ICLR 2021.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        activations: str | Sequence[nn.Module] | None = "auto",
        sample_every: int = 10,
        check_every: int = 100,
        log: str | Path | None = None,
        on_finding: Callable[[Finding], None] | None = None,
        echo: bool = True,
        thresholds: Thresholds | None = None,
        loss_fn: Callable[[Any, Any], Tensor] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"optimizer must be a torch.optim-compatible optimiser, got {type(optimizer).__name__}")
        for name, v in (("sample_every", sample_every), ("check_every", check_every)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError(
                f"loss_fn must be callable as loss_fn(model(inputs), targets), got {type(loss_fn).__name__}"
            )
        self.model, self.optimizer = model, optimizer
        self.loss_fn = loss_fn
        self.thresholds = thresholds or Thresholds()
        self.sample_every, self.check_every = sample_every, check_every
        self.on_finding, self.echo = on_finding, echo
        self.params = measures.trainable_params(optimizer)
        if not self.params:
            raise ValueError("optimizer has no parameter that requires grad: nothing to diagnose")
        self.layers = measures.discover_layers(model, self.params)
        self.trace = T.Trace(meta=anatomy.describe(model, optimizer, self.params, self.layers))
        self.monitor = anatomy.activation_monitor(model, activations, self.thresholds, self.trace.meta)
        self._recorder = anatomy.OrderRecorder(model, self.layers, self.trace.meta.update)
        self._step = 0
        self._in_step = False
        self._pending: list[tuple[int, Any, Tensor | None]] = []
        self.coords = measures.Coordinates(self.params)
        self._snapshot: list[Tensor | None] | None = None
        self._neg_update: list[Tensor | None] | None = None
        self._prev_neg: list[Tensor | None] | None = None  # -dw_t, while dw_{t+1} is measured
        self._snapshot2: list[Tensor | None] | None = None
        self._half_steps = _Every(_HALF_EVERY, _HALF_RUN)
        self._half: tuple[Callable[[], Tensor], list[Tensor], float] | None = None
        self.probe_seconds = 0.0
        """Seconds spent in the probes that need a closure (half step, curvature), apart from the rest."""
        self._update_step = -1
        self._next_check = check_every
        self._announced: set[str] = set()
        self._diagnosis: Diagnosis | None = None
        self._probe_wanted = False
        self._last_probe = -(10**9)
        self._probe_failed: str | None = None
        # The detectors judge windows that are fractions of the run, so a fixed number of samples per window
        # is enough: the intervals grow with the run.
        self._norms = _Every(1, _NORM_RUN)
        self._samples = _Every(sample_every, _SAMPLES_RUN)
        self._activation_samples = _Every(sample_every, _ACTIVATION_RUN)
        self._burst = 0  # inputs seen in the current activation burst
        self._writer = JsonlWriter(log, self.trace.meta) if log is not None else None
        self._closed = False
        if self.monitor is not None and self._activation_samples.take(0):
            self.monitor.arm()

    # -- the contract --------------------------------------------------------------------------------------
    def after_backward(
        self,
        loss: Tensor | float,
        closure: Callable[[], Tensor] | None = None,
        *,
        batch: tuple[Any, Any] | None = None,
    ) -> None:
        """Read this step's loss and raw gradients; call after ``loss.backward()``, before clipping and ``step``.

        Args:
            loss: the step's loss (a 1-element tensor or a number).
            closure: optional; recomputes this batch's loss at the current weights (forward only, e.g.
                ``lambda: loss_fn(model(x), y)``). It lets the doctor probe the curvature (saddle points, edge of
                stability) on the rare steps where that can change a verdict; it is never called otherwise.
            batch: optional, with ``Doctor(..., loss_fn=...)``: this step's ``(inputs, targets)``; the doctor then
                builds that closure itself, ``lambda: loss_fn(model(inputs), targets)``.
        """
        if batch is not None:
            closure = self._closure_for(batch, closure)
        if self._closed:
            self._check_open()
        if self._in_step:  # after_step was not called: the previous step is over
            self._finish_step()
        self._in_step = True
        step = self._step
        if isinstance(loss, Tensor):
            if loss.dim() == 0:
                loss_value: Any = loss.detach()
            elif loss.numel() == 1:
                loss_value = loss.detach().reshape(())
            else:
                raise ValueError(f"loss must be a 1-element tensor, got shape {tuple(loss.shape)}")
        else:
            loss_value = float(loss)
        sampled = self._samples.take(step)
        if self._norms.take(step) | sampled or self._agreement_due(step):
            grads = [p.grad for p in self.params]
            present = [g for g in grads if g is not None]
            total, norms = measures.grad_norms(present)
        else:
            grads, present, total, norms = [], [], None, []
        self._pending.append((step, loss_value, total))
        if self._agreement_due(step):
            agreement = measures.step_agreement(self.coords, grads, self._neg_update)
            if math.isfinite(agreement):
                self.trace.add(T.STEP_AGREEMENT, step - 1, agreement)
            self._prev_neg = self._neg_update  # this step's update is measured too: cos(dw_t, dw_{t+1})
        self._neg_update = None
        if sampled:
            self._layer_grad_norms(step, grads, present, norms)
            self._snapshot = self.coords.take(self.params)
        elif self._prev_neg is not None:
            self._snapshot2 = self.coords.take(self.params)
        if self.monitor is not None and self.monitor.armed:
            self.monitor.disarm()
            self._burst += self.monitor.inputs_seen
            self._collect_activations(step)
        if self._recorder.active:  # the root module was not called: finish with what was seen
            self._recorder.finish()
        if closure is not None and self._probe_wanted:
            self._probe(step, closure)
        if closure is not None and self._half_steps.take(step):
            self._half_start(closure)

    def after_step(self) -> None:
        """Read the learning rate this step used and the update it made; call right after ``optimizer.step()``."""
        if self._closed:
            self._check_open()
        if not self._in_step:
            raise RuntimeError("after_step() called without after_backward(loss) for this step")
        self._finish_step()

    def on_eval(
        self, train: Mapping[str, Any] | None = None, val: Mapping[str, Any] | None = None, step: int | None = None
    ) -> None:
        """Record evaluation results (also once before training): ``train={"loss": .., "acc": ..}``, ``val=...``.

        Args:
            train: metrics on (part of) the training set; ``loss`` and ``acc`` are understood, others kept.
            val: metrics on the validation set.
            step: the step they belong to (default: the number of steps done so far).
        """
        self._check_open()
        at = self._step if step is None else int(step)
        for prefix, metrics in (("train", train), ("val", val)):
            for key, value in (metrics or {}).items():
                try:
                    number = float(value.item() if isinstance(value, Tensor) else value)
                except (TypeError, ValueError, RuntimeError):
                    raise ValueError(f"{prefix}[{key!r}] must be a number, got {value!r}") from None
                self.trace.add(f"{prefix}_{key}", at, number)

    @property
    def findings(self) -> list[Finding]:
        """The findings of the latest live check (checks run every ``check_every`` steps; see :meth:`check`)."""
        return list(self._diagnosis.report.findings) if self._diagnosis else []

    def check(self) -> list[Finding]:
        """Run the detectors on everything seen so far and announce new findings; returns the findings."""
        self._check_open()
        self._flush()
        self._check_params()
        self._diagnosis = diagnose(self.trace, self.thresholds, final=False, skipped=self._skipped())
        self._probe_wanted = self._diagnosis.wants_probe and self._step - self._last_probe >= self._probe_gap()
        for f in self._diagnosis.report.findings:
            if f.severity != "info" and f.kind not in self._announced:
                self._announced.add(f.kind)
                if self.on_finding is not None:
                    self.on_finding(f)
                if self.echo:
                    _echo(f)
        return self.findings

    def report(self) -> Report:
        """The final verdict on everything seen so far (the doctor stays usable)."""
        if not self._closed:
            self._flush()
            self._check_params()
        trace = self.trace
        partial = self.monitor.partial(self.thresholds.dead_window_inputs // 4) if self.monitor is not None else []
        if partial:  # a short run may never fill a window: judge the open ones (at least a quarter full)
            trace = trace.copy()
            for key, what, fraction in partial:
                name = T.DEAD_FRACTION if what == "dead" else T.STUCK_FRACTION
                trace.add(f"{name}/{key}", max(self._step - 1, 0), fraction)
        return diagnose(trace, self.thresholds, final=True, skipped=self._skipped()).report

    def summary(self, file: IO[str] | None = None) -> Report:
        """Print the end-of-run table (rich when installed) and return the report."""
        from ravine.diagnose.render import summary

        report = self.report()
        summary(report, file=file or sys.stdout)
        return report

    def close(self) -> None:
        """Remove every hook and close the log (also done by ``with Doctor(...)``)."""
        if self._closed:
            return
        self._flush()
        if self.monitor is not None:
            self.monitor.disarm()
        self._recorder.remove()
        if self._writer is not None:
            self._writer.close()
        self._closed = True

    def __enter__(self) -> Doctor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit the modules it needs may be gone
            self.close()

    # -- per step ------------------------------------------------------------------------------------------
    def _finish_step(self) -> None:
        step = self._step
        groups = self.optimizer.param_groups
        lr = groups[0].get("lr") if len(groups) == 1 else None
        if type(lr) is not float:  # the fast path is one group with a float lr
            lrs = [x for x in (anatomy.group_lr(g) for g in groups) if x is not None]
            lr = max(lrs) if lrs else None
        if lr is not None:
            self.trace.add(T.LR, step, lr)
        if self._half is not None:
            self._half_finish(step)
        after = self.coords.take(self.params) if self._snapshot is not None or self._prev_neg is not None else None
        if self._prev_neg is not None:
            before = self._snapshot if self._snapshot is not None else self._snapshot2
            if before is not None and after is not None:
                neg = [None if b is None or a is None else b - a for b, a in zip(before, after, strict=True)]
                cos = measures.cosine(self.coords, neg, self._prev_neg)
                if math.isfinite(cos):
                    self.trace.add(T.UPDATE_COSINE, step - 1, cos)
            self._prev_neg = self._snapshot2 = None
        if self._snapshot is not None and after is not None:
            total, weight_norm, per_layer, neg = measures.update_ratios(self.coords, self._snapshot, after, self.layers)
            if math.isfinite(total):
                self.trace.add(T.UPDATE_RATIO, step, total)
            if math.isfinite(weight_norm) and self.layers:
                self.trace.add(T.WEIGHT_NORM, step, weight_norm)
            for name, r in per_layer.items():
                if math.isfinite(r):
                    self.trace.add(f"{T.UPDATE_RATIO}/{name}", step, r)
            self._neg_update, self._update_step, self._snapshot = neg, step, None
        self._in_step = False
        self._step += 1
        if self.monitor is not None:
            if self._activation_samples.take(self._step):
                self._burst = 0
                self.monitor.arm()
            elif 0 < self._burst < self.thresholds.dead_window_inputs // _BURST_SHARE:
                self.monitor.arm()
        alarm = self._flush() if len(self._pending) >= _FLUSH_EVERY else False
        if alarm or self._step >= self._next_check:
            self._next_check = self._step + max(self.check_every, self._step // 3)
            self.check()

    def _agreement_due(self, step: int) -> bool:
        return self._neg_update is not None and self._update_step == step - 1

    def _layer_grad_norms(
        self, step: int, grads: list[Tensor | None], present: list[Tensor], norms: list[Tensor]
    ) -> None:
        by_id = {id(g): n for g, n in zip(present, norms, strict=True)}
        rows = [[by_id[id(grads[i])] for i in layer.index if grads[i] is not None] for layer in self.layers]
        flat = [n for row in rows for n in row]
        if not flat:
            return
        values = iter(torch.stack([n.to(flat[0].device) for n in flat]).tolist())
        for layer, row in zip(self.layers, rows, strict=True):
            if row:
                self.trace.add(f"{T.GRAD_NORM}/{layer.name}", step, math.sqrt(sum(next(values) ** 2 for _ in row)))

    def _collect_activations(self, step: int) -> None:
        assert self.monitor is not None
        records, closed, errors = self.monitor.collect()
        for key, rms in errors:
            if math.isfinite(rms):
                self.trace.add(f"{T.ERROR_RMS}/{key}", step, rms)
        for key, fraction in records:
            family = self.monitor.families.get(key, "rectifier")
            name = T.ZERO_FRACTION if family == "rectifier" else T.SATURATED_FRACTION
            self.trace.add(f"{name}/{key}", step, fraction)
        for key, what, fraction in closed:
            name = T.DEAD_FRACTION if what == "dead" else T.STUCK_FRACTION
            self.trace.add(f"{name}/{key}", step, fraction)
        families = self.trace.meta.setdefault("activation_families", {})
        families.update(self.monitor.families)

    def _flush(self) -> bool:
        """Move the pending per-step values into the trace; True if one of them is not finite."""
        alarm = False
        if self._pending:
            steps = [s for s, _, _ in self._pending]
            tensors = [v for _, v, _ in self._pending if isinstance(v, Tensor)]
            stacked = iter(_stack(tensors).double().tolist() if tensors else [])
            losses = [next(stacked) if isinstance(v, Tensor) else float(v) for _, v, _ in self._pending]
            measured = [(s, n) for s, _, n in self._pending if n is not None]
            norms = _stack([n for _, n in measured]).tolist() if measured else []
            self.trace.extend(T.LOSS, steps, losses)
            self.trace.extend(T.GRAD_NORM, [s for s, _ in measured], norms)
            for (s, _), g in zip(measured, norms, strict=True):
                if not math.isfinite(g):
                    self.trace.add(T.GRAD_NONFINITE, s, 1.0)
                    alarm = True
            alarm = alarm or not all(math.isfinite(v) for v in losses)
            self._pending = []
        if self._writer is not None:
            self._writer.write(self.trace)
        return alarm

    def _check_params(self) -> None:
        if self._step and not measures.all_finite(self.params):
            self.trace.add(T.PARAM_NONFINITE, self._step - 1, 1.0)

    # -- probes and structure --------------------------------------------------------------------------------
    def _probe_gap(self) -> int:
        return max(100, self._step // 10)

    def _probe(self, step: int, closure: Callable[[], Tensor]) -> None:
        self._probe_wanted = False
        self._last_probe = step
        t0 = time.perf_counter()
        try:
            c = curvature.probe(closure, self.model, self.params, self.optimizer)
        except Exception as exc:  # a probe must never break training: record why and carry on
            self._probe_failed = f"the curvature probe failed: {type(exc).__name__}: {exc}"
            return
        finally:
            self.probe_seconds += time.perf_counter() - t0
        self.trace.add(T.HESSIAN_MAX, step, c.hessian_max)
        self.trace.add(T.HESSIAN_MIN, step, c.hessian_min)
        if c.edge_ratio is not None:
            self.trace.add(T.EDGE_RATIO, step, c.edge_ratio)
        self.trace.meta["stability_limit"] = c.stability

    def _half_start(self, closure: Callable[[], Tensor]) -> None:
        """Before the step: the batch loss at w, and w itself (the probe step needs the whole update)."""
        t0 = time.perf_counter()
        try:
            with curvature.isolated(self.model), torch.no_grad():
                l0 = float(closure())
            self._half = (closure, [p.detach().clone() for p in self.params], l0)
        except Exception as exc:  # a probe must never break training
            self._probe_failed = f"the half-step probe failed: {type(exc).__name__}: {exc}"
        self.probe_seconds += time.perf_counter() - t0

    def _half_finish(self, step: int) -> None:
        """After the step: the same batch's loss at w + dw and at w + dw / 2 (the step at half the lr, for an
        update linear in the lr, as SGD's, momentum's and Adam's are); the weights are put back bit for bit."""
        assert self._half is not None
        t0 = time.perf_counter()
        closure, before, l0 = self._half
        self._half = None
        try:
            with curvature.isolated(self.model), torch.no_grad():
                after = [p.detach().clone() for p in self.params]
                full = float(closure())
                try:
                    for p, b, a in zip(self.params, before, after, strict=True):
                        p.copy_(b.add_(a).mul_(0.5))
                    half = float(closure())
                finally:
                    for p, a in zip(self.params, after, strict=True):
                        p.copy_(a)
        except Exception as exc:  # a probe must never break training
            self._probe_failed = f"the half-step probe failed: {type(exc).__name__}: {exc}"
        else:
            if math.isfinite(l0) and math.isfinite(full) and math.isfinite(half):
                self.trace.add(T.PROBE_L0, step, l0)
                self.trace.add(T.PROBE_HALF, step, half)
                self.trace.add(T.PROBE_FULL, step, full)
        self.probe_seconds += time.perf_counter() - t0

    def _closure_for(self, batch: tuple[Any, Any], closure: Callable[[], Tensor] | None) -> Callable[[], Tensor]:
        if closure is not None:
            raise ValueError("pass either closure or batch to after_backward, not both")
        if self.loss_fn is None:
            raise ValueError("batch needs Doctor(..., loss_fn=...): the doctor must know how to score model(inputs)")
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(f"batch must be a pair (inputs, targets), got {type(batch).__name__}")
        inputs, targets = batch
        model, loss_fn = self.model, self.loss_fn
        return lambda: loss_fn(model(inputs), targets)

    def _skipped(self) -> list[tuple[str, str]]:
        out = []
        if self.monitor is None:
            reason = self.trace.meta.get("activations")
            why = "disabled (activations=None)" if reason == "disabled" else "the model has no hookable activation"
            out += [("dead_units", why), ("saturation", why)]
        if self._probe_failed:
            out.append(("curvature", self._probe_failed))
        return out

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Doctor is closed; create a new one")


class _Every:
    """A schedule: due at step 0, then ``max(base, step // run)`` steps after each time it was taken."""

    __slots__ = ("base", "next", "run")

    def __init__(self, base: int, run: int) -> None:
        self.base, self.run, self.next = base, run, 0

    def take(self, step: int) -> bool:
        """Whether ``step`` is due; if so, schedule the next one."""
        if step < self.next:
            return False
        self.next = step + max(self.base, step // self.run)
        return True


def _stack(tensors: list[Tensor]) -> Tensor:
    """One stack of 0-d tensors (moved to the first one's device only if they live on several)."""
    device = tensors[0].device
    if any(t.device != device for t in tensors):
        tensors = [t.to(device) for t in tensors]
    return torch.stack(tensors)


def _echo(f: Finding) -> None:
    from ravine.diagnose.render import finding_line

    finding_line(f, file=sys.stderr)
