"""A file's text: PDF (pypdf), HTML (stdlib parser), JSON, Markdown, code and plain text.

What cannot be read raises `Unparseable` with the `last_error.code` the file's entry in the store ends with.
"""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Literal

import pypdf
import pypdf.errors

#: Formats read as something other than text that this server does not parse (OpenAI reads some of them).
UNSUPPORTED = frozenset(
    [
        "doc",
        "docx",
        "pptx",
        "ppt",
        "xls",
        "xlsx",
        "odt",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "webp",
        "bmp",
        "zip",
        "gz",
        "tar",
        "7z",
        "mp3",
        "mp4",
        "wav",
        "exe",
        "bin",
        "so",
    ]
)


class Unparseable(Exception):
    def __init__(self, code: Literal["unsupported_file", "invalid_file"], message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def extract_text(filename: str, data: bytes) -> str:
    """The text to index; `Unparseable` when the format is not read here or the file is broken or empty."""
    extension = PurePosixPath(filename.lower()).suffix.lstrip(".")
    if extension == "pdf" or data.startswith(b"%PDF-"):
        text = _pdf(data)
    elif extension in UNSUPPORTED:
        raise Unparseable("unsupported_file", f"Files of type '.{extension}' are not supported for file search.")
    else:
        raw = _decoded(data, extension)
        if extension == "json":
            _check_json(raw)
        text = _html(raw) if extension in ("html", "htm", "xhtml") else raw
    if not text.strip():
        raise Unparseable("invalid_file", "The file contains no text to index.")
    return text


def _decoded(data: bytes, extension: str) -> str:
    if b"\x00" in data[:8192]:
        raise Unparseable("unsupported_file", f"The file ('.{extension or 'no extension'}') is not a text file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unparseable("invalid_file", "The file is not valid UTF-8 text.") from None


def _check_json(text: str) -> None:
    try:
        json.loads(text)
    except ValueError as exc:
        raise Unparseable("invalid_file", f"The file is not valid JSON: {exc}.") from None


def _pdf(data: bytes) -> str:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except (pypdf.errors.PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise Unparseable("invalid_file", f"The PDF could not be read: {exc}.") from None


class _TextOnly(HTMLParser):
    """Visible text of an HTML page: script and style bodies dropped, block ends kept as line breaks."""

    BLOCKS = frozenset(
        [
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "header",
            "footer",
            "pre",
            "table",
            "title",
        ]
    )
    HIDDEN = frozenset(("script", "style", "noscript", "template"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _html(text: str) -> str:
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)
