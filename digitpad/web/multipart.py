"""One field of a multipart/form-data body (the image that ``POST /api/predict`` receives).

python-multipart's streaming parser decides every case: its callbacks run in Python and
cost ~55 us for a few-KB upload, ~8% of a whole prediction under load. The plain bodies that
browsers, curl and HTTP libraries send are first tried by ``_plain_field``, a strict reading
with ``bytes.find`` (~4 us): an RFC 2046 boundary, CRLF lines, a few short headers with token names,
``form-data; name="..."[; filename="..."]`` with plain ASCII in the quotes, nothing before the
first boundary or after the last. Any other body, including every malformed one, goes to
python-multipart, so its answers and errors are unchanged; tests/test_forms.py holds the two
to the same result on every body the plain reader accepts.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidRequest

MAX_PARTS = 16
# Well inside python-multipart's own limits (8 headers a part, 4,224-byte header lines), which
# it answers with an error: bodies near them are left to it.
_MAX_HEADERS = 8
_MAX_HEADER_LINE = 1024

_UNDECIDED = object()
_CONTENT_TYPE = re.compile(
    r"\s*multipart/form-data\s*;\s*boundary=(?:\"([0-9A-Za-z'()+_,\-./:=?]{1,70})\"|([0-9A-Za-z'()+_,\-./:=?]{1,70}))\s*",
    re.IGNORECASE)
_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([ -~\t]*)")  # a token name, visible ASCII
_DISPOSITION = re.compile(rb'form-data; name="([ !#-\[\]-~]*)"(?:; filename="([ !#-\[\]-~]*)")?')


def field(body: bytes, content_type: str, name: str) -> bytes | None:
    """The bytes of form field ``name`` (None when absent); InvalidRequest for a malformed body."""
    found = _plain_field(body, content_type, name)
    if found is _UNDECIDED:
        return _parsed_fields(body, content_type, frozenset({name})).get(name)
    return found  # type: ignore[return-value]


def fields(body: bytes, content_type: str, names: frozenset[str]) -> dict[str, bytes]:
    """The bytes of each form field in ``names`` that is present (the first of a repeated one),
    by python-multipart (POST /api/feedback: a few fields, off the hot path)."""
    return _parsed_fields(body, content_type, names)


def _plain_field(body: bytes, content_type: str, name: str) -> Any:
    """The field of a plain body, None when it has no such field, or _UNDECIDED."""
    m = _CONTENT_TYPE.fullmatch(content_type)
    if m is None:
        return _UNDECIDED
    delimiter = b"--" + (m.group(1) or m.group(2)).encode("ascii")
    if not body.startswith(delimiter + b"\r\n"):
        return _UNDECIDED
    separator = b"\r\n" + delimiter
    want = name.encode("utf-8")
    found = None
    pos = len(delimiter) + 2
    for _ in range(MAX_PARTS):
        head_end = body.find(b"\r\n\r\n", pos)
        data_end = body.find(separator, pos)
        # Not decided here: a part without headers, a delimiter that is not after the blank line.
        if head_end <= pos or data_end < head_end + 4:
            return _UNDECIDED
        part_name = None
        lines = body[pos:head_end].split(b"\r\n")
        if len(lines) > _MAX_HEADERS:
            return _UNDECIDED
        for line in lines:
            h = _HEADER.fullmatch(line) if len(line) <= _MAX_HEADER_LINE else None
            if h is None:
                return _UNDECIDED
            if h.group(1).lower() == b"content-disposition":
                d = _DISPOSITION.fullmatch(h.group(2))
                if d is None or part_name is not None:
                    return _UNDECIDED
                part_name = d.group(1)
        if part_name == want and found is None:
            found = body[head_end + 4:data_end]
        after = data_end + len(separator)
        tail = body[after:after + 2]
        if tail == b"--":
            return found if body[after + 2:] in (b"", b"\r\n") else _UNDECIDED
        if tail != b"\r\n":
            return _UNDECIDED
        pos = after + 2
    return _UNDECIDED  # more than MAX_PARTS parts: python-multipart's error


def _parsed_fields(body: bytes, content_type: str, names: frozenset[str]) -> dict[str, bytes]:
    """``fields`` by python-multipart's streaming parser, rather than through Starlette's
    ``request.form()``, which spools every file through a SpooledTemporaryFile (~4x slower for
    a few-KB drawing). The body is already in memory and size-limited by the server's guard."""
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidRequest("multipart/form-data needs a boundary parameter", code="invalid_multipart")
    found: dict[str, bytes] = {}
    part: dict[str, Any] = {}
    state = {"ended": False, "parts": 0}

    def on_part_begin() -> None:
        state["parts"] += 1
        if state["parts"] > MAX_PARTS:
            raise InvalidRequest("too many form fields", code="invalid_multipart")
        part.clear()
        part.update(field=[], value=[], name=None, data=[])

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part["field"].append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part["value"].append(data[start:end])

    def on_header_end() -> None:
        if b"".join(part["field"]).lower() == b"content-disposition":
            _, opts = parse_options_header(b"".join(part["value"]))
            part["name"] = opts.get(b"name", b"").decode("utf-8", "replace")
        part["field"], part["value"] = [], []

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part["name"] in names:  # keep only the fields we want
            part["data"].append(data[start:end])

    def on_part_end() -> None:
        if part["name"] in names and part["name"] not in found:
            found[part["name"]] = b"".join(part["data"])

    def on_end() -> None:
        state["ended"] = True

    try:
        parser = MultipartParser(boundary, {
            "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
            "on_header_end": on_header_end, "on_part_data": on_part_data, "on_part_end": on_part_end, "on_end": on_end,
        })
        parser.write(body)
        parser.finalize()
    except (MultipartParseError, ValueError):  # ValueError: FormParserError (e.g. a boundary over 256 bytes)
        raise InvalidRequest("the multipart/form-data body is malformed", code="invalid_multipart") from None
    if not state["ended"]:
        raise InvalidRequest("the multipart/form-data body is incomplete (no closing boundary)",
                             code="invalid_multipart")
    return found
