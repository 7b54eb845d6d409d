"""``digitpad.web.multipart``: the plain-body reader against python-multipart, which decides every other
body. Whenever the plain reader gives an answer, python-multipart must give the same one."""

from __future__ import annotations

import random

import pytest

from digitpad.errors import InvalidRequest
from digitpad.web import multipart


def body(parts: list[tuple[list[bytes], bytes]], boundary: bytes = b"XyZ123", *, end: bytes = b"--\r\n") -> bytes:
    """``parts``: (header lines, data) each; the closing delimiter is followed by ``end``."""
    out = b""
    for headers, data in parts:
        out += b"--" + boundary + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + data + b"\r\n"
    return out + b"--" + boundary + end


def ctype(boundary: str = "XyZ123") -> str:
    return f"multipart/form-data; boundary={boundary}"


def image(data: bytes = b"\x89PNG...", name: bytes = b"image", filename: bytes = b"digit.png") -> tuple:
    return [b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename + b'"',
            b"Content-Type: image/png"], data


def slow(b: bytes, ct: str) -> object:
    try:
        return multipart.fields(b, ct, frozenset({"image"})).get("image")
    except InvalidRequest as e:
        return ("error", e.message)


def test_plain_bodies_are_read_without_the_parser():
    """What browsers (boundary ----WebKitFormBoundary...), curl and requests send."""
    cases = [
        (body([image()], b"----WebKitFormBoundary7MA4YWxkTrZu0gW"), ctype("----WebKitFormBoundary7MA4YWxkTrZu0gW")),
        (body([image()], b"------------------------d74496d66958873e"),
         ctype("------------------------d74496d66958873e")),
        (body([([b'Content-Disposition: form-data; name="other"'], b"x"), image(b"\r\n--XyZ12 not the end")]),
         ctype()),
        (body([image(b"")]), ctype()),
        (body([image()], end=b"--"), ctype()),
        (body([image()]), 'multipart/form-data; boundary="XyZ123"'),
        (body([image(b"first"), image(b"second")]), ctype()),
        (body([([b'content-disposition: form-data; name="image"'], b"no filename")]), ctype()),
    ]
    for b, ct in cases:
        got = multipart._plain_field(b, ct, "image")
        assert got is not multipart._UNDECIDED, (b, ct)
        assert got == slow(b, ct), (b, ct)
    assert multipart.field(*cases[2], "image") == b"\r\n--XyZ12 not the end"
    assert multipart.field(*cases[6], "image") == b"first"  # the first field of the name wins
    assert multipart.field(body([([b'Content-Disposition: form-data; name="other"'], b"x")]), ctype(), "image") is None


def test_unusual_bodies_go_to_python_multipart():
    b = body([image()])
    cases = [
        (b"preamble\r\n" + b, ctype()),
        (b.replace(b"\r\n", b"\n"), ctype()),
        (body([image()], end=b"--\r\nepilogue"), ctype()),
        (b[:-10], ctype()),
        (body([image(filename="dígito.png".encode())]), ctype()),
        (body([([b'Content-Disposition: form-data; name="image"; filename*=UTF-8\'\'d.png'], b"x")]), ctype()),
        (body([([b"Content-Disposition: form-data; name=image"], b"x")]), ctype()),
        (body([([b"Content-Disposition: form-data; name=\"image\"", b"Content-Disposition: form-data; name=\"x\""],
                b"x")]), ctype()),
        (body([([b"no colon here"], b"x")]), ctype()),
        (body([([], b"x")]), ctype()),
        (body([image()] * 17), ctype()),
        (body([image(filename=b"x" * 2000)]), ctype()),
        (body([([b'Content-Disposition: form-data; name="image"'] + [b"X-A: b"] * 8, b"x")]), ctype()),
        (b, ctype() + "; charset=utf-8"),
        (b, "multipart/form-data"),
    ]
    for body_, ct in cases:
        assert multipart._plain_field(body_, ct, "image") is multipart._UNDECIDED, (body_[:80], ct)
    with pytest.raises(InvalidRequest, match="too many form fields"):
        multipart.field(*cases[10], "image")
    with pytest.raises(InvalidRequest, match="no closing boundary|malformed"):
        multipart.field(*cases[3], "image")


def test_random_bodies_agree_with_python_multipart():
    """Random structures and random byte damage: the plain reader either abstains or agrees."""
    rng = random.Random(1)
    alphabet = [b"\r\n", b"--", b"XyZ123", b"\r\n--XyZ123", b'"', b"\\", b";", b":", b" ", b"a", b"\x00", b"\xff",
                b"image", b"name=", b"Content-Disposition", b"form-data"]
    decided = 0
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(1, 4)):
            name = rng.choice([b"image", b"other", b"img", b"", b"image "])
            headers = [b'Content-Disposition: form-data; name="' + name + b'"' +
                       rng.choice([b"", b'; filename="d.png"', b'; filename=""'])]
            if rng.random() < 0.5:
                headers.append(rng.choice([b"Content-Type: image/png", b"X-Extra:  v\tw", b"content-type:x"]))
            rng.shuffle(headers)
            data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
            parts.append((headers, data))
        b = bytearray(body(parts, end=rng.choice([b"--\r\n", b"--", b"--\r\nx", b"\r\n"])))
        for _ in range(rng.choice([0, 0, 1, 2])):  # damage: flip, drop or insert a byte
            i = rng.randrange(len(b))
            op = rng.random()
            if op < 0.33:
                b[i] = rng.randrange(256)
            elif op < 0.66:
                del b[i]
            else:
                b[i:i] = rng.choice(alphabet)
        b = bytes(b)
        got = multipart._plain_field(b, ctype(), "image")
        if got is not multipart._UNDECIDED:
            decided += 1
            assert got == slow(b, ctype()), b
    assert decided > 300, decided  # (a third: the rest are damaged or ambiguous on purpose)
