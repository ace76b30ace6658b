"""multipart/form-data parsing: fields, files, quoting, and malformed bodies refused."""

from __future__ import annotations

import io

import pytest

from torsion.web._multipart import MultipartError, parseMultipart, parseMultipartParts

TYPE = b'multipart/form-data; boundary="b0und"'


def body(*parts: bytes) -> io.BytesIO:
    return io.BytesIO(
        b"".join(b"--b0und\r\n" + part + b"\r\n" for part in parts) + b"--b0und--\r\n"
    )


def test_fields_and_files() -> None:
    data = body(
        b'Content-Disposition: form-data; name="a"\r\n\r\n1',
        b'Content-Disposition: form-data; name="a"\r\n\r\n2',
        b'Content-Disposition: form-data; name="up"; filename="x \\"y\\".txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nline\r\nline",
    )
    parts = parseMultipartParts(data, TYPE)
    assert [(p.name, p.filename, p.contentType) for p in parts] == [
        (b"a", None, None),
        (b"a", None, None),
        (b"up", b'x "y".txt', b"text/plain"),
    ]
    data.seek(0)
    assert parseMultipart(data, TYPE) == {b"a": [b"1", b"2"], b"up": [b"line\r\nline"]}


@pytest.mark.parametrize(
    "raw",
    [
        b"no boundary at all",
        b"--b0und\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b0und--",
        b'--b0und\r\nContent-Disposition: form-data; name="a"\r\n\r\nnever closed',
        b"--b0undX",
    ],
)
def test_malformed_bodies(raw: bytes) -> None:
    with pytest.raises(MultipartError):
        parseMultipart(io.BytesIO(raw), TYPE)


def test_a_missing_boundary_parameter() -> None:
    with pytest.raises(MultipartError, match="boundary"):
        parseMultipart(io.BytesIO(b""), b"multipart/form-data")


def test_the_number_of_parts_is_bounded() -> None:
    data = body(*[b'Content-Disposition: form-data; name="f"\r\n\r\nv'] * 5)
    with pytest.raises(MultipartError, match="more than 3"):
        parseMultipartParts(data, TYPE, maxParts=3)
