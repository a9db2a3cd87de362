"""Request size limits, enforced before any route (or the JSON parser) sees the request.

Why an ASGI middleware and not a route check: by the time a route runs, FastAPI has already read and
parsed the whole body, so a 10 MB (or 10 GB, chunked) body would be in memory first. Here the body is
counted as it arrives and refused past the limit (413), and oversized headers are refused (431) even
when the server in front (uvicorn's h11 limit: see cli/serve.py) is configured more loosely.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 1 << 20  # the API takes parameters and SQL, never payloads (those go through ingest)
MAX_HEADER_BYTES = 16 * 1024  # all headers together; also uvicorn's h11_max_incomplete_event_size


class RequestLimits:
    """ASGI middleware: 413 for a body over `max_body`, 431 for headers over `max_headers` in all."""

    def __init__(self, app: Any, *, max_body: int = MAX_BODY_BYTES, max_headers: int = MAX_HEADER_BYTES):
        self.app = app
        self.max_body = max_body
        self.max_headers = max_headers

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        if sum(len(k) + len(v) + 4 for k, v in headers) > self.max_headers:
            await _refuse(send, 431, f"request headers are over the limit of {self.max_headers} bytes")
            return
        declared = dict(headers).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _refuse(send, 413, self._too_big())
            return
        body, more = [], True
        size = 0
        while more:  # read and count the body up front: it is small by contract
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _refuse(send, 413, self._too_big())
                return
            body.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_big(self) -> str:
        return (
            f"request body is over the limit of {self.max_body} bytes; send parameters only and name "
            "large inputs by data object id"
        )


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps({"detail": message, "msg": message, "status_code": status}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = ["MAX_BODY_BYTES", "MAX_HEADER_BYTES", "RequestLimits"]
