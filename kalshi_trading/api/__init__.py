"""The exchange port: request signing, rate limiting, retries, and wire <-> model parsing."""
