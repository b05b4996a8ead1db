"""Streaming ``multipart/form-data`` parsing: fields, uploads, filenames.

``MultipartReader`` is fed the body chunk by chunk (python-multipart's
streaming parser does the framing) and enforces our limits as data arrives:
number of fields and files, header bytes per part, bytes per field and per
file. Text fields are kept in memory; each upload is a ``FileStorage`` whose
content stays in memory up to ``max_file_memory_bytes`` and then spills to an
anonymous temporary file, removed when the ``FileStorage`` is closed (at the
end of the request, or when it is garbage-collected).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from typing import IO, Any

from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from gobstopper.http.body import DEFAULT_LIMITS, MULTIPART_FORM, BodyLimits
from gobstopper.http.errors import BodyValidationError, UnsupportedMediaType
from gobstopper.http.validation import BodyTooLarge

#: RFC 2046 boundary: 1-70 of these characters, not ending in a space.
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(10)} | {f"LPT{i}" for i in range(10)}
)
#: Most header lines per part (Content-Disposition, Content-Type, a few more).
MAX_PART_HEADERS = 16
_FEED_CHUNK = 64 * 1024


def secure_filename(filename: str) -> str:
    """A version of ``filename`` safe to use as a path component.

    ASCII letters, digits, ``_``, ``.`` and ``-`` only; path separators become
    underscores, leading dots and underscores are dropped, Windows device
    names get a ``_`` prefix. May return ``''``: pick a name yourself then.

    >>> secure_filename("../../etc/passwd")
    'etc_passwd'
    """
    filename = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    filename = filename.replace("/", " ").replace("\\", " ")
    filename = _UNSAFE_FILENAME_CHARS.sub("", "_".join(filename.split())).strip("._")
    if filename and filename.split(".")[0].upper() in _WINDOWS_DEVICES:
        filename = f"_{filename}"
    return filename


def client_basename(filename: str) -> str:
    """The last path component of a client filename (``..`` gives ``''``)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "" if base in (".", "..") else base


class FileStorage:
    """An uploaded file: its names, headers and content stream.

    ``filename`` is the client's file name reduced to its last path
    component (``raw_filename`` keeps what was sent); pass it through
    ``secure_filename`` before using it in a path. Falsy when the form's
    file input was left empty (no filename).
    """

    __slots__ = (
        "__weakref__",
        "content_type",
        "filename",
        "headers",
        "name",
        "raw_filename",
        "stream",
    )

    def __init__(
        self,
        stream: IO[bytes],
        filename: str = "",
        name: str = "",
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
        raw_filename: str | None = None,
    ) -> None:
        self.stream = stream
        self.filename = filename
        self.name = name
        self.content_type = content_type
        self.headers: dict[str, str] = headers if headers is not None else {}
        self.raw_filename = filename if raw_filename is None else raw_filename

    @property
    def mimetype(self) -> str:
        """The content type without parameters, lower-cased."""
        return self.content_type.partition(";")[0].strip().lower()

    @property
    def size(self) -> int:
        """Size of the content in bytes."""
        position = self.stream.tell()
        size = self.stream.seek(0, os.SEEK_END)
        self.stream.seek(position)
        return size

    @property
    def in_memory(self) -> bool:
        """False once the content has spilled to a temporary file."""
        return not getattr(self.stream, "_rolled", False)

    @property
    def closed(self) -> bool:
        """True after ``close()``: the content is gone."""
        return self.stream.closed

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all by default) from the stream."""
        return self.stream.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the stream position."""
        return self.stream.seek(offset, whence)

    def tell(self) -> int:
        """The stream position."""
        return self.stream.tell()

    def save(self, dst: str | os.PathLike[str] | IO[bytes], buffer_size: int = 64 * 1024) -> None:
        """Write the whole content to a path or a binary file object.

        The stream is rewound first, so reading part of it beforehand does
        not truncate the saved copy.
        """
        self.stream.seek(0)
        if isinstance(dst, (str, os.PathLike)):
            with open(dst, "wb") as out:
                shutil.copyfileobj(self.stream, out, buffer_size)
        else:
            shutil.copyfileobj(self.stream, dst, buffer_size)

    def close(self) -> None:
        """Release the content (deletes the temporary file, if any)."""
        self.stream.close()

    def __enter__(self) -> FileStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # NOTE: closes the spooled file when the request is dropped without
        # ``request.close()``, and avoids ResourceWarnings.
        stream = getattr(self, "stream", None)
        if stream is not None:
            stream.close()

    def __bool__(self) -> bool:
        return bool(self.filename)

    def __repr__(self) -> str:
        return f"<FileStorage {self.filename!r} ({self.content_type})>"


class FileDict(dict[str, FileStorage]):
    """Uploads by field name: the first per name; ``getlist`` gives them all."""

    def __init__(self) -> None:
        super().__init__()
        self._lists: dict[str, list[FileStorage]] = {}

    def add(self, name: str, file: FileStorage) -> None:
        """Record ``file`` under ``name``."""
        self._lists.setdefault(name, []).append(file)
        self.setdefault(name, file)

    def getlist(self, name: str) -> list[FileStorage]:
        """Every file uploaded under ``name``, in order."""
        return list(self._lists.get(name, ()))

    def every(self) -> Iterator[FileStorage]:
        """Every uploaded file, duplicates of a name included."""
        for files in self._lists.values():
            yield from files

    def close(self) -> None:
        """Close every uploaded file."""
        for file in self.every():
            file.close()


def boundary_of(content_type: str) -> bytes:
    """The boundary of a multipart Content-Type; 400 if missing or invalid."""
    kind, params = parse_options_header(content_type)
    if kind != MULTIPART_FORM.encode():
        raise UnsupportedMediaType(f"Expected {MULTIPART_FORM}")
    boundary = params.get(b"boundary")
    if not boundary:
        raise BodyValidationError("Multipart body without a boundary")
    if _BOUNDARY.fullmatch(boundary) is None:
        raise BodyValidationError("Invalid multipart boundary (1-70 characters, RFC 2046)")
    return boundary


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _Part:
    """The part being parsed: its headers, then its content."""

    __slots__ = ("file", "filename", "headers", "name", "raw_filename", "size", "value")

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.name = ""
        self.filename: str | None = None
        self.raw_filename = ""
        self.value = bytearray()
        self.file: Any = None
        self.size = 0


class MultipartReader:
    """Parse a multipart body fed in chunks, under ``limits``.

    ``feed(chunk)`` as data arrives, then ``finish()`` for ``(form, files)``.
    Any violation raises an ``HTTPException`` (400 malformed, 413 limits) and
    the reader should then be ``close()``-d to drop partial uploads.
    """

    def __init__(self, content_type: str, limits: BodyLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.form: dict[str, list[str]] = {}
        self.files = FileDict()
        self.received = 0
        self._fields = 0
        self._file_count = 0
        self._header_bytes = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._part = _Part()
        callbacks: Any = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }
        self._parser = MultipartParser(
            boundary_of(content_type),
            callbacks,
            max_header_count=MAX_PART_HEADERS,
            max_header_size=limits.max_part_header_bytes,
        )

    def feed(self, chunk: bytes) -> None:
        """Parse the next chunk of the body."""
        self.received += len(chunk)
        try:
            self._parser.write(chunk)
        except (MultipartParseError, FormParserError) as exc:
            raise BodyValidationError(f"Malformed multipart body: {exc}") from exc

    def feed_all(self, body: bytes) -> None:
        """Parse a complete body held in memory, in bounded slices."""
        view = memoryview(body)
        for start in range(0, len(body), _FEED_CHUNK):
            self.feed(bytes(view[start : start + _FEED_CHUNK]))

    def finish(self) -> tuple[dict[str, list[str]], FileDict]:
        """The parsed ``(form, files)``; 400 if the closing boundary is missing."""
        if self.received and self._parser.state != MultipartState.END:
            raise BodyValidationError("Malformed multipart body: missing closing boundary")
        self._release()
        return self.form, self.files

    def close(self) -> None:
        """Drop every upload, including a partial one."""
        self.files.close()
        if self._part.file is not None:
            self._part.file.close()
        self._release()

    def _release(self) -> None:
        # NOTE: the parser's callbacks are bound methods of this reader; a
        # cycle would leave uploads to the cyclic GC, which may finalize the
        # spooled file before its FileStorage (a ResourceWarning).
        self._parser.callbacks = {}

    # -- parser callbacks -------------------------------------------------------
    def _on_part_begin(self) -> None:
        self._part = _Part()
        self._header_bytes = 0

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.limits.max_part_header_bytes:
            raise BodyValidationError(
                f"Multipart part headers too large (limit {self.limits.max_part_header_bytes})"
            )

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_name.decode("latin-1").lower()
        self._part.headers[name] = _text(bytes(self._header_value)).strip()
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        part, limits = self._part, self.limits
        kind, params = parse_options_header(
            part.headers.get("content-disposition", "").encode("utf-8").decode("latin-1")
        )
        name = params.get(b"name")
        if kind != b"form-data" or name is None:
            raise BodyValidationError("Multipart part without Content-Disposition: form-data; name")
        part.name = _text(name)
        raw_filename = params.get(b"filename")
        if _CONTROL.search(part.name):
            raise BodyValidationError("Control characters in a multipart field name")
        if raw_filename is None:
            self._fields += 1
            if self._fields > limits.max_form_fields:
                raise BodyTooLarge(f"Too many form fields (limit {limits.max_form_fields})")
            return
        part.raw_filename = _text(raw_filename)
        if _CONTROL.search(part.raw_filename):
            raise BodyValidationError("Control characters in an uploaded file name")
        part.filename = client_basename(part.raw_filename)
        self._file_count += 1
        if self._file_count > limits.max_files:
            raise BodyTooLarge(f"Too many files (limit {limits.max_files})")
        part.file = tempfile.SpooledTemporaryFile(max_size=limits.max_file_memory_bytes)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part, limits = self._part, self.limits
        part.size += end - start
        if part.file is None:
            if part.size > limits.max_field_bytes:
                raise BodyTooLarge(f"Form field too large (limit {limits.max_field_bytes} bytes)")
            part.value += data[start:end]
            return
        if limits.max_file_bytes is not None and part.size > limits.max_file_bytes:
            raise BodyTooLarge(f"Uploaded file too large (limit {limits.max_file_bytes} bytes)")
        part.file.write(data[start:end])

    def _on_part_end(self) -> None:
        part = self._part
        if part.file is None:
            try:
                value = part.value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BodyValidationError(
                    f"Multipart field {part.name!r} is not valid UTF-8",
                    [{"loc": ["body", part.name], "msg": "not valid UTF-8"}],
                ) from exc
            self.form.setdefault(part.name, []).append(value)
            return
        part.file.seek(0)
        storage = FileStorage(
            part.file,
            part.filename or "",
            part.name,
            part.headers.get("content-type", "application/octet-stream"),
            part.headers,
            part.raw_filename,
        )
        part.file = None
        self.files.add(part.name, storage)


def parse_multipart(
    body: bytes, content_type: str, limits: BodyLimits | None = None
) -> tuple[dict[str, list[str]], FileDict]:
    """Parse a complete multipart ``body`` into ``(form, files)``.

    ``form`` maps names to lists of text values; ``files`` maps names to
    ``FileStorage``. Raises ``UnsupportedMediaType`` (415) if the content
    type is not multipart/form-data, ``BodyValidationError`` (400) if the
    body is malformed and ``BodyTooLarge`` (413) past ``limits``.
    """
    reader = MultipartReader(content_type, limits or DEFAULT_LIMITS)
    try:
        reader.feed_all(body)
        return reader.finish()
    except BaseException:
        reader.close()
        raise
