"""The text of a PDF fpdf2 wrote, for tests that check what a packet does (or must not) say.

fpdf2 writes TrueType text as 2-byte glyph ids of a subset font, so the words are not in the bytes; this
reads each page's text-showing operators and maps the ids back through the font's ToUnicode CMap. It reads
only what fpdf2 writes (no object streams, literal strings, one font per Tf); it is not a general reader.
"""

from __future__ import annotations

import re
import zlib

OBJECT = re.compile(rb"(\d+) 0 obj")
STREAM = re.compile(rb">>\s*stream\r?\n")  # a stream's dictionary, then its bytes: /Length of them
LENGTH = re.compile(rb"/Length (\d+)")
SHOW = re.compile(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", re.S)
ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes]]:
    """{number: (dictionary, decoded stream or b"")}. A stream is read by its /Length, never by looking for
    `endstream`: compressed bytes may end in a line break or hold any word."""
    found = {}
    position = 0
    while (start := OBJECT.search(data, position)) is not None:
        end = data.index(b"endobj", start.end())
        stream = STREAM.search(data, start.end())
        if stream is not None and stream.start() < end:
            head = data[start.end() : stream.start() + 2]
            length = LENGTH.search(head)
            assert length is not None, head
            raw = data[stream.end() : stream.end() + int(length.group(1))]
            body = zlib.decompress(raw) if b"/FlateDecode" in head else raw
            end = data.index(b"endobj", stream.end() + len(raw))
        else:
            head, body = data[start.end() : end], b""
        found[int(start.group(1))] = (head, body)
        position = end + len(b"endobj")
    return found


def _cmap(stream: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
        for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.S):
        for low, high, start in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = int.from_bytes(bytes.fromhex(start.decode()), "big")
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = chr(first + offset)
    return mapping


def _unescape(literal: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(literal):
        char = literal[i : i + 1]
        if char != b"\\":
            out += char
            i += 1
            continue
        following = literal[i + 1 : i + 2]
        octal = re.match(rb"[0-7]{1,3}", literal[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(), 8) & 0xFF)
            i += 1 + len(octal.group())
        else:
            out += ESCAPES.get(following, following)
            i += 2
    return bytes(out)


def pdf_text(data: bytes) -> str:
    """Every line of text on every page, in order, one per line."""
    objects = _objects(data)
    fonts: dict[bytes, dict[int, str]] = {}
    for head, _ in objects.values():
        for name, number in re.findall(rb"/(F\d+) (\d+) 0 R", head):
            font_head = objects[int(number)][0]
            to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", font_head)
            if to_unicode:
                fonts[name] = _cmap(objects[int(to_unicode.group(1))][1])
    lines = []
    for head, _ in objects.values():
        page = re.search(rb"/Type /Page\b.*", head, re.S) and re.search(rb"/Contents (\d+) 0 R", head)
        if not page:
            continue
        mapping: dict[int, str] = {}
        for font, literal in SHOW.findall(objects[int(page.group(1))][1]):
            if font:
                mapping = fonts.get(font, {})
                continue
            codes = _unescape(literal)
            lines.append(
                "".join(mapping.get(int.from_bytes(codes[j : j + 2], "big"), "?") for j in range(0, len(codes), 2))
            )
    return "\n".join(lines)
