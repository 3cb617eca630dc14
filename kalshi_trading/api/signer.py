"""Request signing as a `requests` auth object (design rule 3: the client never touches RSA itself)."""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

from requests.auth import AuthBase
from requests.models import PreparedRequest

if TYPE_CHECKING:  # cryptography is imported lazily (start-up time)
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"


class Signer:
    """Signs `timestamp_ms + METHOD + path` with RSA-PSS / SHA-256 / MGF1-SHA-256, salt 32."""

    def __init__(self, key_id: str, private_key: RSAPrivateKey, clock: Callable[[], float] = time.time):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        self.key_id = key_id
        self._key = private_key
        self._clock = clock
        self._hash = hashes.SHA256()
        # DIGEST_LENGTH = 32 bytes for SHA-256, the salt length Kalshi verifies with.
        self._padding = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)

    def __repr__(self) -> str:  # never show the key
        return f"Signer(key_id=…{self.key_id[-4:]})"

    def sign(self, method: str, path: str, timestamp_ms: int | None = None) -> dict[str, str]:
        """The three KALSHI-ACCESS-* headers for one request; `path` must exclude the query string."""
        ts = str(timestamp_ms if timestamp_ms is not None else int(self._clock() * 1000))
        message = f"{ts}{method.upper()}{path}".encode()
        signature = self._key.sign(message, self._padding, self._hash)
        return {
            KEY_HEADER: self.key_id,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
        }


class KalshiAuth(AuthBase):
    """Adds fresh signature headers each time a request is prepared (once per attempt)."""

    def __init__(self, signer: Signer):
        self.signer = signer

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        path = urlsplit(request.url or "").path
        request.headers.update(self.signer.sign(request.method or "GET", path))
        return request
