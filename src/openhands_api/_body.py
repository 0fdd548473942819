"""Reading an answer's body within bounds: a size cap that holds while decompressing, and
every failure of the body a library error.

The drivers read the raw bytes (``iter_raw``) and feed them to a :class:`BodyReader` (an
answer kept in memory) or a :class:`FileBody` (a download, written as it comes). Both undo the
``Content-Encoding`` themselves (gzip or deflate: the only ones the clients accept) with a
bounded decompressor, so that a 2 MB gzip bomb costs at most the cap, not the 512 MB it
inflates to, and a corrupt encoding is a :class:`~.errors.ProtocolError` rather than httpx's
``DecodingError``. Time is the driver's business; this module reads no clock.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO

from .errors import ProtocolError
from .protocol.http import JsonDocument, Request

# What the clients send as Accept-Encoding: exactly the encodings BodyReader can bound.
ACCEPT_ENCODING = "gzip, deflate"

# The most one decompression step may produce: what a download holds at once, whatever the
# compressed body inflates to.
_PIECE = 1 << 20


class _DecodedBody:
    """One answer's body, decoded as it comes, refusing more than ``limit`` decoded bytes
    (None: no cap); a subclass keeps each decoded piece (``_keep``)."""

    def __init__(self, request: Request, status_code: int, content_encoding: str, limit: int | None) -> None:
        self._request = request
        self._status = status_code
        self._limit = limit
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
            room = _PIECE if self._limit is None else min(_PIECE, self._limit - self._size + 1)
            try:
                out = self._decoder.decompress(data, room)
            except zlib.error as exc:
                if self._encoding == "deflate" and not self._raw_deflate_tried and self._size == 0:
                    # Some servers send raw deflate without the zlib wrapper.
                    self._raw_deflate_tried = True
                    self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise self._error(f"a corrupt {self._encoding} body ({exc})") from None
            self._add(out)
            data = self._decoder.unconsumed_tail

    def _finish_decoding(self) -> None:
        if self._decoder is not None:
            try:
                self._add(self._decoder.flush())
            except zlib.error as exc:
                raise self._error(f"a corrupt {self._encoding} body ({exc})") from None
            if not self._decoder.eof and self._size:
                raise self._error(f"a cut-off {self._encoding} body")

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        self._check_size()
        if data:
            self._keep(data)

    def _check_size(self) -> None:
        if self._limit is not None and self._size > self._limit:
            raise self._error(
                f"an answer larger than {self._limit:,} bytes (the limit for this request; "
                "see max_response_bytes)"
            )

    def _keep(self, data: bytes) -> None:
        raise NotImplementedError

    def _error(self, what: str) -> ProtocolError:
        return ProtocolError(
            f"{self._request.describe()} answered {self._status} with {what}",
            status_code=self._status,
            method=self._request.method,
            path=self._request.path,
        )


class BodyReader(_DecodedBody):
    """Collects one answer's body, decoded, refusing more than ``limit`` decoded bytes."""

    def __init__(self, request: Request, status_code: int, content_encoding: str, limit: int) -> None:
        self._parts: list[bytes] = []
        super().__init__(request, status_code, content_encoding, limit)

    def _keep(self, data: bytes) -> None:
        self._parts.append(data)

    def finish(self) -> bytes:
        self._finish_decoding()
        return b"".join(self._parts)


class FileBody(_DecodedBody):
    """Writes one answer's body, decoded, to ``destination`` as it comes: memory stays flat
    whatever its size.

    It goes through a temporary file in the same directory, renamed over ``destination`` only
    by :meth:`finish`, once the whole body is in (and, for a JSON ``document``, opened and
    closed as one): a cut, corrupt or oversize body, or any failure of the reading, leaves no
    file under the real name — :meth:`discard` (always called, as a context manager) removes
    what was begun. A JSON answer that does not open as the ``document`` does is not the file:
    it is kept in memory instead, up to ``answer_limit`` bytes, and :meth:`finish` hands it
    back for the parser to say what came.
    """

    def __init__(
        self,
        request: Request,
        status_code: int,
        content_encoding: str,
        *,
        destination: Path,
        limit: int | None,
        answer_limit: int,
        document: JsonDocument | None = None,
    ) -> None:
        self._destination = Path(destination)
        self._answer_limit = answer_limit
        self._document = document
        self._head: bytearray | None = bytearray() if document is not None else None
        self._answer: list[bytes] | None = None
        self._out: BinaryIO | None = None
        self._tmp: str | None = None
        self._tail = b""
        super().__init__(request, status_code, content_encoding, limit)

    def __enter__(self) -> FileBody:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()

    def _keep(self, data: bytes) -> None:
        if self._answer is not None:
            self._answer.append(data)
        elif self._head is not None:
            self._head += data
            if len(self._head) >= JsonDocument.HEAD:
                self._decide()
        else:
            self._write(data)

    def _decide(self) -> None:
        """Whether the body opens as the document: write it, or keep it as an answer."""
        assert self._document is not None
        assert self._head is not None
        head, self._head = bytes(self._head), None
        if self._document.opens(head):
            self._write(head)
            return
        self._answer = [head]
        self._limit = self._answer_limit
        self._check_size()

    def _write(self, data: bytes) -> None:
        if self._out is None:
            fd, self._tmp = tempfile.mkstemp(
                prefix=self._destination.name + ".", suffix=".part", dir=self._destination.parent
            )
            self._out = os.fdopen(fd, "wb")
        self._out.write(data)
        # Only the document's end is checked: keep its last bytes, never the whole.
        keep = JsonDocument.TAIL
        self._tail = data[-keep:] if len(data) >= keep else (self._tail + data)[-keep:]

    def finish(self) -> tuple[bytes, int | None]:
        """The body is complete: ``(b"", bytes written)`` once the file is in place, or
        ``(body, None)`` for an answer that is not the file."""
        self._finish_decoding()
        if self._head is not None:
            self._decide()  # a body shorter than the head
        if self._answer is not None:
            return b"".join(self._answer), None
        if self._document is not None and not self._document.closes(self._tail):
            raise self._error("a cut-off body (its JSON does not end where the document does)")
        self._write(b"")
        assert self._out is not None
        assert self._tmp is not None
        self._out.close()
        os.replace(self._tmp, self._destination)
        self._tmp = None
        return b"", self._size

    def discard(self) -> None:
        """Remove the temporary file, unless :meth:`finish` put it in place."""
        if self._out is not None:
            self._out.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None
