"""How the fake reads what clients send: form or JSON bodies, JSON-encoded parameters, uploaded PNGs."""

from __future__ import annotations

import json
import zlib
from typing import Any
from urllib.parse import parse_qs


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A request body as parameters: JSON when the content type says so, else a form (last value wins)."""
    if not raw:
        return {}
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def json_param(value: Any) -> Any:
    """A parameter that may arrive JSON-encoded in a form (blocks, view, metadata); None when unreadable."""
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) if `data` is a PNG whose chunks and image data decode, else None."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    position, size, compressed = 8, None, b""
    try:
        while position < len(data):
            length = int.from_bytes(data[position : position + 4], "big")
            kind = data[position + 4 : position + 8]
            body = data[position + 8 : position + 8 + length]
            crc = int.from_bytes(data[position + 8 + length : position + 12 + length], "big")
            if len(body) != length or zlib.crc32(kind + body) != crc:
                return None
            if kind == b"IHDR":
                size = (int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big"))
            elif kind == b"IDAT":
                compressed += body
            elif kind == b"IEND":
                break
            position += 12 + length
        if size is None or not compressed or not zlib.decompress(compressed):
            return None
    except (zlib.error, ValueError):
        return None
    return size
