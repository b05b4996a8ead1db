"""A fake RSGI protocol whose body arrives in chunks, for body-limit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from gobstopper.testing import FakeHTTPProtocol


class StreamingProtocol(FakeHTTPProtocol):
    """Serve ``chunks`` one by one (with or without Content-Length); count what was pulled."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__(b"")
        self._chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        for chunk in self._chunks:
            self.pulled += len(chunk)
            yield chunk
