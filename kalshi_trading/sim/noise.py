"""Deterministic noise: a number from a hash of (seed, names, numbers).

The same arguments give the same number in every process and whatever order requests arrive in, so the
outside sources (`outside_btc`, `outside_weather`) and the days' true highs never draw from a shared random
stream: asking a loopback source for a quote does not change what the simulated market does next.
Floats are fine here: model quantities, never money.
"""

from __future__ import annotations

import hashlib
from statistics import NormalDist

_STD = NormalDist()


def uniform(*parts: object) -> float:
    """A number in (0, 1), fixed by `parts` (ints, strings and floats; their repr is hashed)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2.0**64


def gauss(*parts: object) -> float:
    """A standard normal draw, fixed by `parts`."""
    return _STD.inv_cdf(uniform(*parts))


def norm_cdf(x: float) -> float:
    """The standard normal cumulative distribution."""
    return _STD.cdf(x)
