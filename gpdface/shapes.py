"""Readable shape checks for tensors and arrays: ``check_shape(x, "B 3 H W")``."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ShapeError


def check_shape(x: object, spec: str, name: str = "input") -> dict[str, int]:
    """Check that ``x.shape`` matches ``spec`` and return the sizes bound to its letters.

    Args:
        x: anything with a ``shape`` (torch tensor, numpy array).
        spec: space-separated dimensions; digits must match exactly, names bind to sizes and must agree
            where repeated, ``*`` matches any size.
        name: what ``x`` is, for the error message.

    Raises:
        ShapeError: the number of dimensions or a size differs (a ``ValueError`` too).
    """
    shape: Sequence[int] = tuple(getattr(x, "shape", ()))
    dims = spec.split()
    if len(shape) != len(dims):
        raise ShapeError(f"{name} must have shape ({spec}), got {tuple(shape)}")
    bound: dict[str, int] = {}
    for dim, size in zip(dims, shape, strict=True):
        if dim == "*":
            continue
        if dim.isdigit():
            if int(dim) != size:
                raise ShapeError(f"{name} must have shape ({spec}), got {tuple(shape)}")
        elif bound.setdefault(dim, size) != size:
            raise ShapeError(f"{name} must have shape ({spec}), got {tuple(shape)}: {dim} differs")
    return bound
