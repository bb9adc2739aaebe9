"""vcm.fileio: outputs appear complete or not at all, and never replace what vcm did not write."""

import errno
import os
import subprocess
import sys

import pytest

from vcm.errors import VcmError
from vcm.fileio import (
    OUTPUT_MARK,
    all_or_nothing,
    atomic_output,
    check_output_path,
    remove_stale_temporaries,
)


def listing(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_file_appears_only_on_success(tmp_path):
    target = tmp_path / "out" / "result.json"
    with atomic_output(target) as temporary:
        assert temporary.suffix == ".json"
        assert temporary.parent == target.parent
        temporary.write_text("{}")
        assert not target.exists()
    assert target.read_text() == "{}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_failure_leaves_nothing_not_even_the_folders_made_for_it(tmp_path):
    target = tmp_path / "new" / "deeper" / "result.bin"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("encoder died")
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_folders_that_were_there(tmp_path):
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError):
        with atomic_output(tmp_path / "kept" / "x.txt") as temporary:
            temporary.write_text("half")
            raise RuntimeError("died")
    assert listing(tmp_path) == ["kept"]


def test_a_file_output_never_replaces_a_folder(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "precious.txt").write_text("user data")
    with pytest.raises(VcmError, match=r"results: is a folder; vcm writes a file here"):
        with atomic_output(results) as temporary:
            temporary.write_text("tracks")
    assert (results / "precious.txt").read_text() == "user data"
    assert listing(tmp_path) == ["results", "results/precious.txt"]


@pytest.mark.parametrize("name", [".", "..", "some/dir/..", "a/", ""])
def test_names_that_name_nothing_are_refused(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "some" / "dir").mkdir(parents=True)
    (tmp_path / "some" / "keep.txt").write_text("keep")
    with pytest.raises(VcmError, match="not a name to write an output to"):
        check_output_path(name)
    assert (tmp_path / "some" / "keep.txt").read_text() == "keep"


def test_an_output_under_a_regular_file_is_refused(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(VcmError, match=r"file.txt is not a folder"):
        with atomic_output(tmp_path / "file.txt" / "out.json"):
            pass
    assert (tmp_path / "file.txt").read_text() == "x"


def test_a_folder_output_replaces_only_a_folder_vcm_wrote(tmp_path):
    target = tmp_path / "sequence"
    with atomic_output(target, folder=True) as temporary:
        temporary.mkdir()
        (temporary / "first.txt").write_text("1")
    assert listing(target) == [OUTPUT_MARK, "first.txt"]
    with atomic_output(target, folder=True) as temporary:
        temporary.mkdir()
        (temporary / "second.txt").write_text("2")
    assert listing(target) == [OUTPUT_MARK, "second.txt"]
    assert listing(tmp_path) == ["sequence", f"sequence/{OUTPUT_MARK}", "sequence/second.txt"]


def test_a_folder_output_never_replaces_a_users_folder(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    with pytest.raises(VcmError, match=r"mine: folder exists and was not written by vcm"):
        with atomic_output(target, folder=True) as temporary:
            temporary.mkdir()
    assert listing(tmp_path) == ["mine", "mine/thesis.tex"]


def test_a_folder_output_never_replaces_a_file(tmp_path):
    (tmp_path / "seq").write_text("a file")
    with pytest.raises(VcmError, match="exists and is not a folder vcm wrote"):
        with atomic_output(tmp_path / "seq", folder=True) as temporary:
            temporary.mkdir()
    assert (tmp_path / "seq").read_text() == "a file"


def test_nothing_written_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(VcmError, match=r"out.266: nothing was written"):
        with atomic_output(tmp_path / "out.266"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_disk_full_names_the_output(tmp_path):
    with pytest.raises(VcmError, match=r"^.*out.txt: cannot write: No space left on device$"):
        with atomic_output(tmp_path / "out.txt") as temporary:
            temporary.write_text("part")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert list(tmp_path.iterdir()) == []


def test_temporaries_are_unique_and_never_reuse_an_existing_name(tmp_path):
    names = set()
    for _ in range(20):
        with atomic_output(tmp_path / "a.json") as temporary:
            assert not temporary.exists()
            names.add(temporary.name)
            temporary.write_text("{}")
    assert len(names) == 20


def test_all_or_nothing_removes_only_what_the_block_wrote(tmp_path):
    untouched = tmp_path / "old.json"
    untouched.write_text("before")
    written = tmp_path / "new.json"
    with pytest.raises(RuntimeError):
        with all_or_nothing([untouched, written, tmp_path / "never.json"]):
            written.write_text("main output")
            raise RuntimeError("run record did not fit")
    assert listing(tmp_path) == ["old.json"]
    assert untouched.read_text() == "before"


def test_all_or_nothing_keeps_everything_on_success(tmp_path):
    written = tmp_path / "new.json"
    with all_or_nothing([written]):
        written.write_text("ok")
    assert written.read_text() == "ok"


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    final = tmp_path / "foreground.266"
    stale_work = tmp_path / f".foreground.266.work-{pid}-abcd"
    stale_work.mkdir()
    (stale_work / "rec.yuv").write_bytes(b"x")
    stale_partial = tmp_path / f".foreground.partial-{pid}-0011aabb.266"
    stale_partial.write_bytes(b"y")
    alive = tmp_path / f".foreground.partial-{os.getpid()}-0011aabb.266"
    alive.write_bytes(b"z")
    user_file = tmp_path / ".foreground.266.work-notes"
    user_file.write_text("not ours: no pid")
    removed = remove_stale_temporaries(final)
    assert sorted(path.name for path in removed) == sorted([stale_work.name, stale_partial.name])
    assert listing(tmp_path) == sorted([alive.name, user_file.name])
