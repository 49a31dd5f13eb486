"""GlobLister: a folder listed again when it changed, and only then."""

from __future__ import annotations

import os
from pathlib import Path

from logmetrics.sources.globs import MTIME_TRUST, GlobLister


def expand(lister: GlobLister, pattern: str) -> tuple[list[str], bool]:
    paths, fresh = lister.expand(pattern)
    return sorted(paths), fresh


def age(folder: Path, seconds: float = MTIME_TRUST + 60) -> None:
    """Give ``folder`` a modification time ``seconds`` in the past (as if quiet for that long)."""
    st = folder.stat()
    old = st.st_mtime_ns - int(seconds * 1e9)
    os.utime(folder, ns=(old, old))


def test_a_file_added_or_removed_is_seen_at_the_next_expansion(tmp_path: Path) -> None:
    (tmp_path / "a.log").touch()
    age(tmp_path)
    lister = GlobLister()
    pattern = str(tmp_path / "*.log")
    assert expand(lister, pattern) == ([str(tmp_path / "a.log")], True)
    (tmp_path / "b.log").touch()  # the folder's time moves on
    assert expand(lister, pattern) == ([str(tmp_path / "a.log"), str(tmp_path / "b.log")], True)
    age(tmp_path)
    expand(lister, pattern)
    (tmp_path / "a.log").unlink()
    assert expand(lister, pattern) == ([str(tmp_path / "b.log")], True)


def test_an_unchanged_folder_is_not_listed_again(tmp_path: Path) -> None:
    (tmp_path / "a.log").touch()
    age(tmp_path)
    lister = GlobLister()
    paths, fresh = lister.expand(str(tmp_path / "*.log"))
    assert fresh
    again, fresh = lister.expand(str(tmp_path / "*.log"))
    assert not fresh and again == paths
    # Proof that it was not listed: a name added with the folder's time put back is not seen...
    st = tmp_path.stat()
    (tmp_path / "b.log").touch()
    os.utime(tmp_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert lister.expand(str(tmp_path / "*.log")) == ([str(tmp_path / "a.log")], False)
    # ...until an event says the folder changed.
    lister.forget(str(tmp_path / "b.log"))
    paths, fresh = lister.expand(str(tmp_path / "*.log"))
    assert fresh and sorted(paths) == [str(tmp_path / "a.log"), str(tmp_path / "b.log")]


def test_a_folder_changed_recently_is_listed_every_time(tmp_path: Path) -> None:
    """Its time may not move again for a name added within the same tick: it is not trusted yet."""
    (tmp_path / "a.log").touch()
    lister = GlobLister()
    lister.expand(str(tmp_path / "*.log"))
    assert lister.expand(str(tmp_path / "*.log"))[1]


def test_always_lists_and_other_globs_are_listed_every_time(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.log").touch()
    age(tmp_path / "sub")
    assert GlobLister().expand(str(tmp_path / "*" / "a.log")) == ([str(tmp_path / "sub" / "a.log")], True)
    lister = GlobLister(always=True)
    lister.expand(str(tmp_path / "sub" / "*.log"))
    assert lister.expand(str(tmp_path / "sub" / "*.log"))[1]


def test_a_relative_or_missing_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.log").touch()
    lister = GlobLister()
    assert lister.expand("*.log") == ([str(tmp_path / "a.log")], True)
    assert lister.expand("nowhere/*.log") == ([], True)


def test_folders_are_left_out_and_hidden_names_matched_as_glob_does(tmp_path: Path) -> None:
    (tmp_path / "a.log").touch()
    (tmp_path / ".hidden.log").touch()
    (tmp_path / "folder.log").mkdir()
    (tmp_path / "link.log").symlink_to(tmp_path / "a.log")
    lister = GlobLister()
    assert sorted(lister.expand(str(tmp_path / "*.log"))[0]) == [str(tmp_path / "a.log"),
                                                                 str(tmp_path / "link.log")]
    assert lister.expand(str(tmp_path / ".*.log"))[0] == [str(tmp_path / ".hidden.log")]
    assert lister.expand(str(tmp_path / "folder.log"))[0] == []
    assert lister.expand(str(tmp_path / "a.log"))[0] == [str(tmp_path / "a.log")]
    assert sorted(lister.expand(str(tmp_path / "**" / "*.log"))[0]) == [str(tmp_path / "a.log"),
                                                                        str(tmp_path / "link.log")]
