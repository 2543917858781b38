"""The archive's text files: their bytes and their ``NNN_<hash>.txt`` names.

Imported by the extraction workers, so it stays free of the catalog's imports."""
from __future__ import annotations

import hashlib
import re

TEXT_NAME_RE = re.compile(r"^(?P<seq>\d{3,})_(?P<hash>[0-9a-f]{16})\.txt$")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def text_file_name(seq: int, data: bytes) -> str:
    """``NNN_<first 16 hex of sha256(data)>.txt`` with NNN at least 3 digits."""
    if seq < 0:
        raise ValueError(f"sequence number must be >= 0, got {seq}")
    return f"{seq:03d}_{sha256_hex(data)[:16]}.txt"


def parse_text_file_name(name: str) -> tuple[int, str] | None:
    """(seq, hash16) of a text file name, or None if it is not one."""
    match = TEXT_NAME_RE.match(name)
    return (int(match["seq"]), match["hash"]) if match else None


def render_text(title: str, body: str) -> bytes:
    """A text file's bytes: headline, blank line, body paragraphs; UTF-8, ``\\n`` line ends."""
    title = " ".join((title or "").split())
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    return f"{title}\n\n{body}\n".encode("utf-8")


def body_of(data: bytes) -> bytes:
    """The body of a text file's bytes: what follows its headline line and the blank line."""
    _, _, body = data.partition(b"\n\n")
    return body
