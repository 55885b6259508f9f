"""The transaction's document checks, each branch made to happen at its exact moment.

The command-line tests race real editor processes against styxy; here a real edit of the file
is made at one precise point of the commit (from the change itself, or from the call that
swaps the files in), so each check is shown to catch what it is there for, on both ways of
replacing the document: the RENAME_EXCHANGE swap and, where a file system lacks it, a rename.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support import DEFAULT_DOC

from styxy import document, paths
from styxy.errors import RefusedError
from styxy.store import atomic, replace, transaction

HAND = "Saved by hand during the commit.\n"
TITLE = "# Port management\n"


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    target = tmp_path / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, target)
    return target


@pytest.fixture(params=["exchange", "rename"])
def swap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "rename":
        # What a file system without RENAME_EXCHANGE gets: the plain rename after the check.
        monkeypatch.setattr(atomic, "_renameat2", False)
    return str(request.param)


def _with_hand_edit(data: bytes) -> bytes:
    return data.replace(TITLE.encode(), (TITLE + "\n" + HAND).encode(), 1)


def _set_gap(notes: list[str], doc: Path, value: str, before_change=None) -> int:
    """`config set gap-size` through run_change; returns how many times the change ran."""
    runs = []

    def change(txn: transaction.Transaction) -> None:
        runs.append(txn.doc_bytes)
        if before_change is not None and len(runs) == 1:
            before_change()
        txn.replace_text(document.set_setting(txn.parsed(), "auto-allocation.gap-size", value))

    transaction.run_change(paths.resolve(doc), change, notify=notes.append)
    return len(runs)


def _save_by_rename(doc: Path) -> None:
    temporary = doc.with_name("editor.tmp")
    temporary.write_bytes(_with_hand_edit(doc.read_bytes()))
    os.replace(temporary, doc)


def _save_in_place(doc: Path) -> None:
    new = _with_hand_edit(doc.read_bytes())
    with open(doc, "r+b") as handle:
        handle.write(new)


REDO = "was saved while this command ran; applying the change to the saved text."


@pytest.mark.parametrize("save", [_save_by_rename, _save_in_place])
def test_a_save_between_read_and_commit_is_kept(doc, swap, save):
    notes: list[str] = []
    runs = _set_gap(notes, doc, "20", before_change=lambda: save(doc))
    text = doc.read_text()
    assert runs == 2 and HAND in text and "gapSize: 20" in text
    assert [n for n in notes if REDO in n] == [f"{doc} {REDO}"]
    assert sorted(p.name for p in doc.parent.iterdir()) == [".styxy", "PORT_MANAGEMENT.md"]


def test_a_save_by_rename_just_before_the_swap_is_swapped_back(doc, monkeypatch):
    """The save lands after the byte check, before the swap: the swap shows it, it goes back."""
    real_exchange = atomic.exchange
    calls = []

    def save_then_exchange(first: Path, second: Path) -> bool:
        calls.append(second)
        if len(calls) == 1:
            _save_by_rename(doc)
        return real_exchange(first, second)

    monkeypatch.setattr(atomic, "exchange", save_then_exchange)
    notes: list[str] = []
    assert _set_gap(notes, doc, "20") == 2
    text = doc.read_text()
    assert HAND in text and "gapSize: 20" in text
    assert len(calls) == 3  # the swap, the swap back, the swap of the redone change


def test_an_edit_in_place_into_the_old_file_after_the_swap_is_put_back(doc, swap, monkeypatch):
    """An editor that opened the document before the swap writes into the file swapped out."""
    editor = os.open(doc, os.O_WRONLY)  # opened before styxy replaces the document
    new = _with_hand_edit(doc.read_bytes())
    real_sleep = transaction.time.sleep
    written = []

    def write_during_the_pause(seconds: float) -> None:
        # The pause after the swap is the moment such a late write lands.
        if not written and os.stat(doc).st_ino != os.fstat(editor).st_ino:
            os.pwrite(editor, new, 0)
            written.append(True)
        real_sleep(seconds)

    monkeypatch.setattr(transaction.time, "sleep", write_during_the_pause)
    try:
        notes: list[str] = []
        assert _set_gap(notes, doc, "20") == 2
    finally:
        os.close(editor)
    assert written
    text = doc.read_text()
    assert HAND in text and "gapSize: 20" in text
    assert sorted(p.name for p in doc.parent.iterdir()) == [".styxy", "PORT_MANAGEMENT.md"]


def test_a_document_that_never_stops_changing_is_refused_with_nothing_written(doc, monkeypatch):
    monkeypatch.setattr(replace, "_SETTLE_SECONDS", 0.001)
    saves = []

    def change(txn: transaction.Transaction) -> None:
        saves.append(1)
        with open(doc, "ab") as handle:  # every try finds the document saved again
            handle.write(f"\nsave {len(saves)}\n".encode())
        txn.replace_text(document.set_setting(txn.parsed(), "auto-allocation.gap-size", "20"))

    with pytest.raises(RefusedError) as refused:
        transaction.run_change(paths.resolve(doc), change, notify=lambda _: None)
    assert str(refused.value) == (
        f"{doc} kept changing while styxy tried to change it (20 tries); nothing was written, "
        "run the command again."
    )
    assert len(saves) == transaction.CHANGE_ATTEMPTS
    text = doc.read_text()
    assert "gapSize: 10" in text and text.endswith("\nsave 20\n")
