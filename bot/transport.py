"""The HTTP transport under the VectorShift client: httpx's API over aiohttp's connection pool.

Why not httpx's own transport: httpcore's pool scans every waiting request against every
connection, so its cost per request grows with the number in flight. Measured on 2 cores with
200 concurrent `run_status` calls against the fake VectorShift in another process
(`/tmp`-style script in the closing note): 1.0-1.5 s of CPU with httpcore, 0.23-0.25 s over
aiohttp. py-spy put 57 % of the bot's interpreter time in
`AsyncConnectionPool._assign_requests_to_connections` during the end-to-end benchmark.

`httpx-aiohttp` (by an httpx maintainer) provides the transport. Its error mapping is too
coarse for a POST that must not be repeated: it reports every aiohttp connection error as
`httpx.ConnectTimeout`, including a connection dropped after the request went out. The
VectorShift client treats connect errors as "provably not sent" and may retry `terminate` on
them, so this module narrows the mapping: only errors raised while connecting stay connect
errors; anything else becomes `httpx.ReadError` (sent, outcome unknown, status is read first).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""aiohttp errors raised before a single byte of the request could have been sent."""


def _narrowed(exc: httpx.TransportError, request: httpx.Request | None) -> httpx.TransportError:
    if isinstance(exc.__cause__, _NOT_SENT):
        return exc
    narrowed = httpx.ReadError(str(exc), request=request)
    narrowed.__cause__ = exc.__cause__
    return narrowed


class _NarrowedStream(httpx.AsyncByteStream):
    """A response body whose errors always mean "sent": the request was answered."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise httpx.ReadError(str(exc), request=self._request) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


class VectorShiftTransport(AiohttpTransport):
    """`AiohttpTransport` with connect errors reported only when nothing was sent."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; see the module docstring for how errors are mapped."""
        try:
            response = await super().handle_async_request(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _narrowed(exc, request) from exc.__cause__
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream):
            response.stream = _NarrowedStream(stream, request)
        return response
