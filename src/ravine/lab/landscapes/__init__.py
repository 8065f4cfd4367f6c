"""Test functions for the landscape lab, by name: ``get("ravine")``, ``get("rastrigin:n=10")``.

Each is a :class:`Landscape` (a :class:`ravine.problems.Problem`) with its plotting domain, known minima,
standard starts and what it illustrates.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ravine.lab.landscapes.base import Landmark, Landscape, polish
from ravine.lab.landscapes.classic import beale, rosenbrock
from ravine.lab.landscapes.flat import monkey_saddle, plateau, saddle
from ravine.lab.landscapes.multimodal import himmelblau, rastrigin, six_hump_camel, styblinski_tang
from ravine.lab.landscapes.quadratic import booth, bowl, ravine

LANDSCAPES: dict[str, Callable[..., Landscape]] = {
    "bowl": bowl,
    "ravine": ravine,
    "booth": booth,
    "rosenbrock": rosenbrock,
    "beale": beale,
    "saddle": saddle,
    "monkey-saddle": monkey_saddle,
    "plateau": plateau,
    "himmelblau": himmelblau,
    "six-hump-camel": six_hump_camel,
    "rastrigin": rastrigin,
    "styblinski-tang": styblinski_tang,
}

DEFAULT_SUITE = ("bowl", "ravine", "rosenbrock", "saddle", "plateau", "rastrigin")


def names() -> list[str]:
    """The landscape names :func:`get` accepts."""
    return list(LANDSCAPES)


def parameters(name: str) -> dict[str, object]:
    """The keyword arguments landscape ``name`` takes, with their defaults (``{"kappa": 100.0, ...}``)."""
    return {k: p.default for k, p in inspect.signature(_factory(name)).parameters.items()}


def get(spec: str) -> Landscape:
    """The landscape ``spec`` names: ``"NAME"`` or ``"NAME:KEY=VALUE[,KEY=VALUE...]"`` (``"ravine:kappa=1000"``).

    Raises:
        ValueError: unknown name (the message lists the known ones), unknown or malformed parameter.
    """
    name, _, rest = spec.partition(":")
    factory = _factory(name)
    allowed = parameters(name)
    kwargs: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in allowed:
            takes = ", ".join(f"{k}={v}" for k, v in allowed.items()) or "no parameters"
            raise ValueError(f"landscape {name!r} takes {takes}; got {item!r}")
        kind = type(allowed[key])
        try:
            kwargs[key] = kind(value) if kind is not int else int(value, 10)
        except ValueError:
            raise ValueError(f"landscape parameter {key} must be a {kind.__name__}, got {value!r}") from None
    return factory(**kwargs)


def _factory(name: str) -> Callable[..., Landscape]:
    try:
        return LANDSCAPES[name]
    except KeyError:
        raise ValueError(f"unknown landscape {name!r}; known: {', '.join(LANDSCAPES)}") from None


__all__ = [
    "DEFAULT_SUITE",
    "LANDSCAPES",
    "Landmark",
    "Landscape",
    "beale",
    "booth",
    "bowl",
    "get",
    "himmelblau",
    "monkey_saddle",
    "names",
    "parameters",
    "plateau",
    "polish",
    "rastrigin",
    "ravine",
    "rosenbrock",
    "saddle",
    "six_hump_camel",
    "styblinski_tang",
]
