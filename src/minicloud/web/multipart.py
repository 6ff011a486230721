"""A multipart/form-data body read part by part from the request stream, never held whole.

werkzeug's own form parsing reads the whole body (spooling files to disk) before a handler
runs; a route marked ``streams_body`` uses ``StreamedForm`` instead, so an uploaded file can go
on to its destination chunk by chunk while it arrives.
"""
from __future__ import annotations

from werkzeug.sansio.multipart import NEED_DATA, Data, Epilogue, Field, File, MultipartDecoder

from minicloud.errors import BadRequest

READ_BYTES = 256 * 1024  # how much of the request body is read at a time
FIELD_LIMIT = 8192  # a form field (csrf_token, prefix) larger than this is not a field of this form
DRAIN_BYTES = 64 * 1024 * 1024  # read past a refused upload's rest up to this much (see StreamedForm.discard)
BAD_FORM = "error.bad_form"


class StreamedForm:
    """A multipart/form-data body read event by event from the request stream, never held whole."""

    def __init__(self, request):
        boundary = request.mimetype_params.get("boundary", "")
        if request.mimetype != "multipart/form-data" or not boundary:
            raise BadRequest(BAD_FORM)
        self.stream = request.stream
        self.decoder = MultipartDecoder(boundary.encode("latin-1"), max_form_memory_size=READ_BYTES + FIELD_LIMIT)
        self.done = False

    def next_event(self):
        try:
            while True:
                event = self.decoder.next_event()
                if event is not NEED_DATA:
                    self.done = isinstance(event, Epilogue)
                    return event
                chunk = self.stream.read(READ_BYTES)
                self.decoder.receive_data(chunk or None)
        except ValueError:
            raise BadRequest(BAD_FORM) from None

    def field_value(self) -> str:
        """The text of the field whose header was just read."""
        value = bytearray()
        while True:
            event = self.next_event()
            if not isinstance(event, Data):
                raise BadRequest(BAD_FORM)
            value += event.data
            if len(value) > FIELD_LIMIT:
                raise BadRequest(BAD_FORM)
            if not event.more_data:
                return value.decode("utf-8", "replace")

    def file_chunks(self):
        """The bytes of the file part whose header was just read, as they arrive."""
        while True:
            event = self.next_event()
            if not isinstance(event, Data):
                raise BadRequest(BAD_FORM)
            if event.data:
                yield event.data
            if not event.more_data:
                return

    def discard(self, limit: int = DRAIN_BYTES) -> None:
        """After a refusal: read (and drop) up to ``limit`` more bytes, so that a browser still sending
        a small or middling file receives the answer instead of a reset connection."""
        left = limit
        while left > 0 and self.stream.read(min(READ_BYTES, left)):
            left -= READ_BYTES

    def finish(self) -> None:
        """Read what follows the file (the closing boundary) so the connection stays clean."""
        while not self.done:
            event = self.next_event()
            if isinstance(event, Field):
                self.field_value()
            elif isinstance(event, File):
                for _ in self.file_chunks():
                    pass


class PartReader:
    """The file part as a readable stream: ``read(size)`` pulls only as many chunks as it needs."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data, self._buffer = self._buffer + b"".join(self._chunks), b""
            return data
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def __iter__(self):
        if self._buffer:
            yield self._buffer
            self._buffer = b""
        yield from self._chunks
