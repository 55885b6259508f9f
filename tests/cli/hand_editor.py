"""A person editing the document by hand while styxy runs: a real process, no lock of styxy's.

    python hand_editor.py DOC MODE LABEL STOP_FILE EDITORS_LOCK DONE_FILE

Until STOP_FILE exists, inserts the line "LABEL edit K." under the document's title, saving by
rename (`rename`: a temporary file renamed over the document, as most editors do) or in place
(`in-place`: the same file rewritten, as vim with backupcopy=yes does). Each edit reads the
document, changes it and, like an editor that warns about a file changed on disk, reads it again
right before saving and starts over if it changed. Two editors share EDITORS_LOCK so that they
never overwrite each other: what is tested is styxy, not two people in one file. The numbers of
the saved edits go to DONE_FILE, one a line.
"""

from __future__ import annotations

import fcntl
import os
import random
import sys
import time

TITLE = "# Port management\n"
# Between two saves: each editor saves about once a second, as in the measurement of issue 13
# (99 and 98 saves in a minute), far more often than a person does.
PAUSE_SECONDS = (0.4, 1.2)


def edited(data: bytes, line: str) -> bytes:
    text = data.decode("utf-8")
    at = text.index(TITLE) + len(TITLE)
    return (text[:at] + "\n" + line + "\n" + text[at:]).encode("utf-8")


def save_by_rename(doc: str, line: str) -> bool:
    with open(doc, "rb") as handle:
        data = handle.read()
    new = edited(data, line)
    temporary = f"{doc}.editor~"
    with open(temporary, "wb") as handle:
        handle.write(new)
    with open(doc, "rb") as handle:
        if handle.read() != data:
            os.unlink(temporary)
            return False
    os.replace(temporary, doc)
    return True


def save_in_place(doc: str, line: str) -> bool:
    with open(doc, "r+b") as handle:
        data = handle.read()
        new = edited(data, line)
        handle.seek(0)
        if handle.read() != data:
            return False
        handle.seek(0)
        handle.write(new)
        handle.truncate()
    return True


def main() -> None:
    doc, mode, label, stop, lock_path, done_path = sys.argv[1:7]
    save = save_by_rename if mode == "rename" else save_in_place
    rng = random.Random(label)
    with open(lock_path, "a+b") as lock, open(done_path, "w") as done:
        number = 0
        while not os.path.exists(stop):
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                saved = save(doc, f"{label} edit {number}.")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            if saved:
                done.write(f"{number}\n")
                done.flush()
                number += 1
            time.sleep(rng.uniform(PAUSE_SECONDS[0], PAUSE_SECONDS[1]))


if __name__ == "__main__":
    main()
