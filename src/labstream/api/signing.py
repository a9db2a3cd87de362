"""Short-lived signed URLs for data blocks (DRS access URLs, htsget data URLs).

The ticket or access call is authorised with the caller's token and audited; it hands back a URL that
carries who it was issued to, until when, and an HMAC over both and the exact path and parameters, so
the data URL can be fetched without the token (as htsget clients do) but cannot be altered or reused
for anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

from labstream.core.errors import AccessDenied

SIG_PARAMS = ("u", "exp", "sig")


class Signer:
    def __init__(self, key: bytes, ttl_s: float = 600.0) -> None:
        self._key = key
        self.ttl_s = ttl_s

    def _mac(self, path: str, params: dict[str, str]) -> str:
        canon = path + "?" + urlencode(sorted(params.items()))
        return hmac.new(self._key, canon.encode(), hashlib.sha256).hexdigest()

    def sign(self, path: str, params: dict[str, str], user: str) -> str:
        """Return `path?params&u=..&exp=..&sig=..`."""
        full = {k: str(v) for k, v in params.items() if v is not None}
        full.update(u=user, exp=str(int(time.time() + self.ttl_s)))
        full["sig"] = self._mac(path, full)
        return path + "?" + urlencode(full)

    def verify(self, path: str, params: dict[str, str]) -> str:
        """Return the user the URL was issued to; a missing, altered or expired signature raises."""
        sig = params.get("sig", "")
        unsigned = {k: v for k, v in params.items() if k != "sig"}
        if not sig or not hmac.compare_digest(sig.encode(), self._mac(path, unsigned).encode()):
            raise AccessDenied("invalid data URL signature; request a new ticket or access URL")
        try:
            expired = float(unsigned.get("exp", "0")) < time.time()
        except ValueError:
            expired = True
        if expired:
            raise AccessDenied("data URL expired; request a new ticket or access URL")
        return unsigned.get("u", "")
