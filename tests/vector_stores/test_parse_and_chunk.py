"""Parsing every supported format, refusing the rest with OpenAI's codes, and token-sized chunks with overlap."""

from __future__ import annotations

import json

import pytest

from tests.vector_stores.pdf import text_pdf
from workers.tools.file_search.chunking import chunk, estimate_tokens
from workers.tools.file_search.parse import Unparseable, extract_text


def test_plain_markdown_and_code_are_read_as_text() -> None:
    assert extract_text("notes.txt", b"hello world") == "hello world"
    assert "# Title" in extract_text("README.md", "# Title\n\nsome *text* \u00e9".encode())
    assert "def f():" in extract_text("x.py", b"def f():\n    return 1\n")
    assert extract_text("noext", "\ufeffbom first".encode()) == "bom first"


def test_html_keeps_visible_text_only() -> None:
    page = b"<html><head><title>T</title><style>p{color:red}</style><script>var x=1;</script></head>"
    page += b"<body><p>Visible &amp; kept</p><div>second</div></body></html>"
    text = extract_text("page.html", page)
    assert "Visible & kept" in text and "second" in text
    assert "color" not in text and "var x" not in text


def test_json_is_checked_then_indexed_as_written() -> None:
    document = json.dumps({"capital": "Paris"}).encode()
    assert "Paris" in extract_text("a.json", document)
    with pytest.raises(Unparseable) as caught:
        extract_text("broken.json", b'{"a": ')
    assert caught.value.code == "invalid_file"


def test_pdf_text_is_extracted() -> None:
    text = extract_text("report.pdf", text_pdf("The zebra code is 4417.", "Second line here."))
    assert "zebra code is 4417" in text and "Second line" in text


def test_a_broken_pdf_is_an_invalid_file() -> None:
    with pytest.raises(Unparseable) as caught:
        extract_text("x.pdf", b"%PDF-1.4\nthis is not a pdf at all")
    assert caught.value.code == "invalid_file"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "unsupported_file"),
        ("slides.docx", b"PK\x03\x04", "unsupported_file"),
        ("blob", b"abc\x00def", "unsupported_file"),
        ("latin.txt", "caf\u00e9".encode("latin-1"), "invalid_file"),
        ("empty.txt", b"   \n ", "invalid_file"),
    ],
)
def test_unreadable_files_say_why(name: str, data: bytes, code: str) -> None:
    with pytest.raises(Unparseable) as caught:
        extract_text(name, data)
    assert caught.value.code == code


def test_chunks_stay_within_the_size_and_overlap_as_asked() -> None:
    words = [f"w{i:04d}" for i in range(3000)]  # 5 characters: 2 estimated tokens each
    chunks = chunk(" ".join(words), max_tokens=800, overlap_tokens=400)
    assert all(c.tokens <= 800 for c in chunks)
    assert chunks[0].tokens == 800
    firsts = [c.text.split()[0] for c in chunks]
    # Each chunk starts 400 tokens (200 words) after the previous one: an overlap of exactly 400 tokens.
    assert [int(f[1:]) for f in firsts[:4]] == [0, 200, 400, 600]
    assert chunks[-1].text.split()[-1] == "w2999"
    covered = {w for c in chunks for w in c.text.split()}
    assert covered == set(words)


def test_static_strategy_without_overlap_partitions_the_text() -> None:
    text = " ".join(f"word{i}" for i in range(1000))
    chunks = chunk(text, max_tokens=100, overlap_tokens=0)
    assert " ".join(c.text for c in chunks) == text
    assert all(c.tokens <= 100 for c in chunks)


def test_a_word_longer_than_a_chunk_is_a_chunk_of_its_own() -> None:
    long_word = "x" * 1000  # 250 tokens
    chunks = chunk(f"a {long_word} b", max_tokens=100, overlap_tokens=50)
    assert [c.text for c in chunks] == ["a", long_word, "b"]
    assert estimate_tokens(long_word) == 250


def test_empty_text_has_no_chunks() -> None:
    assert chunk("   ") == []
