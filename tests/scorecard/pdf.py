"""Just enough of a PDF reader for the report tests (no PDF library is installed): the page count
from the /Type /Page objects and the text of the content streams (reportlab writes text as
literal strings; those in its CID font are UTF-16BE)."""

from __future__ import annotations

import base64
import re
import zlib

STREAM = re.compile(
    rb"<<(?P<head>(?:(?!>>\s*stream).)*?)>>\s*stream\r?\n(?P<data>.*?)endstream", re.S
)
TEXT = re.compile(rb"/(?P<font>F\d+) [\d.]+ Tf|\((?P<text>(?:\\.|[^\\)])*)\)\s*Tj", re.S)


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


def _unescape(raw: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(raw):
        c = raw[i]
        if c == 0x5C:  # backslash
            nxt = raw[i + 1 : i + 2]
            if nxt.isdigit():
                digits = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4]).group()
                out.append(int(digits, 8))
                i += 1 + len(digits)
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(nxt, nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def text(pdf: bytes, cid_fonts: tuple[bytes, ...] = (b"F2",)) -> str:
    """All text shown on the pages, in order."""
    parts = []
    for m in STREAM.finditer(pdf):
        head, data = m["head"], m["data"].strip()
        try:
            if b"ASCII85Decode" in head:
                data = base64.a85decode(data, adobe=True)
            if b"FlateDecode" in head:
                data = zlib.decompress(data)
        except (ValueError, zlib.error):
            continue
        font = b""
        for t in TEXT.finditer(data):
            if t["font"]:
                font = t["font"]
                continue
            raw = _unescape(t["text"])
            parts.append(
                raw.decode("utf-16-be", "replace") if font in cid_fonts else raw.decode("latin-1")
            )
    return "\n".join(parts)
