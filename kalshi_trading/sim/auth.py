"""Request signatures (reference section 2): RSA-PSS, SHA-256, MGF1-SHA-256, salt 32, over
`ts_ms + METHOD + path` (path includes /trade-api/v2, never the query).

`cryptography` is imported lazily: loading it costs tens of milliseconds of start-up.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING

from kalshi_trading.sim.errors import SimError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

WINDOW_MS = 10_000  # +-5 s passes, +-30 s fails (the reference's observations)


def generate_key_pair(private_path: Path) -> str:
    """Write a new PKCS#8 private key (mode 0600); return the public key PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(private_path, 0o600)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Verifier:
    """Checks the three auth headers against registered public keys (cached once loaded)."""

    def __init__(self, window_ms: int = WINDOW_MS):
        self.window_ms = window_ms
        self._keys: dict[str, RSAPublicKey] = {}

    def verify(self, headers, method: str, path: str, public_pem_of, now_ms: int) -> str:
        """Return the key id, or raise a 401 SimError shaped as the reference shows."""
        key_id = headers.get("KALSHI-ACCESS-KEY")
        stamp = headers.get("KALSHI-ACCESS-TIMESTAMP")
        signature = headers.get("KALSHI-ACCESS-SIGNATURE")
        if not key_id or not stamp or not signature:
            raise SimError(401, "signature_is_missing_from_headers", "authentication headers are missing",
                           "KALSHI-ACCESS-KEY, KALSHI-ACCESS-TIMESTAMP and KALSHI-ACCESS-SIGNATURE are required")
        try:
            ts = int(stamp)
        except ValueError:
            raise SimError(401, "header_timestamp_expired", "timestamp is not Unix milliseconds", stamp) from None
        if abs(now_ms - ts) > self.window_ms:
            raise SimError(401, "header_timestamp_expired", "request timestamp is outside the allowed window",
                           f"timestamp {ts} vs server {now_ms}")
        pem = public_pem_of(key_id)
        if pem is None:
            raise SimError(401, "authentication_error", "unknown API key", "NOT_FOUND")
        key = self._keys.get(key_id)
        if key is None:
            from cryptography.hazmat.primitives.asymmetric import rsa
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            loaded = load_pem_public_key(pem.encode())
            if not isinstance(loaded, rsa.RSAPublicKey):
                raise SimError(401, "authentication_error", "the registered key is not an RSA key", key_id)
            key = self._keys[key_id] = loaded
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            raw = base64.b64decode(signature, validate=True)
            key.verify(raw, f"{stamp}{method.upper()}{path}".encode(),
                       padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise SimError(401, "authentication_error", "signature does not verify",
                           "INCORRECT_API_KEY_SIGNATURE") from None
        return key_id
