"""`Closing`: what `with` needs for an object that has a `close()` (an engine, a client, a pool)."""

from __future__ import annotations

from typing import Self


class Closing:
    """`with obj:` returns the object and calls its `close()` on the way out, error or not."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
