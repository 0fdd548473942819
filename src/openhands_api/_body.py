"""Reading an answer's body within bounds: a size cap that holds while decompressing, and
every failure of the body a library error.

The drivers read the raw bytes (``iter_raw``) and feed them to a :class:`BodyReader`, which
undoes the ``Content-Encoding`` itself (gzip or deflate: the only ones the clients accept) with
a bounded decompressor, so that a 2 MB gzip bomb costs at most the cap, not the 512 MB it
inflates to, and a corrupt encoding is a :class:`~.errors.ProtocolError` rather than
httpx's ``DecodingError``. Time is the driver's business; this module reads no clock.
"""

from __future__ import annotations

import zlib

from .errors import ProtocolError
from .protocol.http import Request

# What the clients send as Accept-Encoding: exactly the encodings BodyReader can bound.
ACCEPT_ENCODING = "gzip, deflate"


class BodyReader:
    """Collects one answer's body, decoded, refusing more than ``limit`` decoded bytes."""

    def __init__(self, request: Request, status_code: int, content_encoding: str, limit: int) -> None:
        self._request = request
        self._status = status_code
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._encoding = content_encoding.strip().lower()
        self._decoder: zlib._Decompress | None = None
        self._raw_deflate_tried = False
        if self._encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._encoding == "deflate":
            self._decoder = zlib.decompressobj()
        elif self._encoding not in ("", "identity"):
            raise self._error(f"an answer in an encoding it was not offered ({content_encoding!r})")

    def feed(self, chunk: bytes) -> None:
        if self._decoder is None:
            self._add(chunk)
            return
        data = chunk
        while data:
            try:
                out = self._decoder.decompress(data, self._limit - self._size + 1)
            except zlib.error as exc:
                if self._encoding == "deflate" and not self._raw_deflate_tried and self._size == 0:
                    # Some servers send raw deflate without the zlib wrapper.
                    self._raw_deflate_tried = True
                    self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise self._error(f"a corrupt {self._encoding} body ({exc})") from None
            self._add(out)
            data = self._decoder.unconsumed_tail

    def finish(self) -> bytes:
        if self._decoder is not None:
            try:
                self._add(self._decoder.flush())
            except zlib.error as exc:
                raise self._error(f"a corrupt {self._encoding} body ({exc})") from None
            if not self._decoder.eof and self._size:
                raise self._error(f"a cut-off {self._encoding} body")
        return b"".join(self._parts)

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise self._error(
                f"an answer larger than {self._limit:,} bytes (the limit for this request; "
                "see max_response_bytes)"
            )
        if data:
            self._parts.append(data)

    def _error(self, what: str) -> ProtocolError:
        return ProtocolError(
            f"{self._request.describe()} answered {self._status} with {what}",
            status_code=self._status,
            method=self._request.method,
            path=self._request.path,
        )
