"""The files and vector stores views in a browser: upload a text file, download it back, make a vector store of it
and watch the page follow its ingestion to `completed` (the page polls while a file is in progress)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from playwright.sync_api import FilePayload, Page, expect

from tests.stack import Stack

NOTES = b"Orchestrator playground notes.\nThe tutor's favourite equation is 3x + 11 = 14.\n"


def test_upload_then_a_vector_store_reaches_completed(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    filename = f"notes-{uuid.uuid4().hex[:6]}.txt"
    open_playground(page, route="#/files")
    expect(page.get_by_label("Purpose")).to_have_value("assistants")
    notes: FilePayload = {"name": filename, "mimeType": "text/plain", "buffer": NOTES}
    page.get_by_label("File", exact=True).set_input_files(files=[notes])
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_have_text(f"Uploaded {filename}.")
    row = page.get_by_test_id("file-table").get_by_role("row").filter(has_text=filename)
    expect(row.get_by_role("cell").nth(1)).to_have_text("assistants")
    expect(row.get_by_role("cell").nth(2)).to_have_text(f"{len(NOTES)} B")
    file_id = row.get_attribute("data-file-id")
    assert file_id is not None and file_id.startswith("file-")

    with page.expect_download() as downloading:
        row.get_by_role("button", name="Download").click()
    download = downloading.value
    assert download.suggested_filename == filename
    assert download.path().read_bytes() == NOTES

    page.get_by_role("navigation").get_by_role("link", name="Vector stores").click()
    page.get_by_label("Name", exact=True).fill("Tutor notes")
    page.get_by_role("group", name="Files to add").get_by_label(re.compile(f"^{re.escape(filename)}")).check()
    page.get_by_role("button", name="Create vector store").click()
    expect(page).to_have_url(re.compile(r"#/vector-stores/vs_"))
    store_id = page.url.rpartition("/")[2]

    stored = page.get_by_test_id("store-files").get_by_role("row").filter(has_text=filename)
    # Ingestion runs in the file-search pool; the page refreshes every second until the file is no longer in progress.
    expect(stored.locator("[data-status]")).to_have_attribute("data-status", "completed", timeout=60_000)
    expect(page.get_by_test_id("file-counts").locator("[data-count=completed]")).to_have_text("completed: 1")
    expect(page.get_by_test_id("store-list").get_by_role("link", name=re.compile("^Tutor notes"))).to_be_visible()

    client = stack.client()
    assert [(f.id, f.status) for f in client.vector_stores.files.list(store_id)] == [(file_id, "completed")]
    assert client.vector_stores.retrieve(store_id).name == "Tutor notes"
    assert page_errors == []


def test_remove_a_file_and_delete_the_store(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    uploaded = client.files.create(file=("gone.txt", b"soon gone"), purpose="assistants")
    store = client.vector_stores.create(name="Short-lived", file_ids=[uploaded.id])
    open_playground(page, route=f"#/vector-stores/{store.id}")
    row = page.get_by_test_id("store-files").get_by_role("row").filter(has_text="gone.txt")
    row.get_by_role("button", name="Remove").click()
    row.get_by_role("button", name="Yes, remove").click()
    expect(page.get_by_role("status")).to_have_text("Removed gone.txt.")
    expect(row).to_have_count(0)
    assert list(client.vector_stores.files.list(store.id)) == []

    page.get_by_role("button", name="Delete vector store").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page).to_have_url(re.compile(r"#/vector-stores$"))
    expect(page.get_by_role("heading", name="New vector store")).to_be_visible()
    assert store.id not in [s.id for s in client.vector_stores.list(limit=100)]
    assert page_errors == []
