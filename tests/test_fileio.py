import pytest

from vcm.fileio import atomic_output


def test_file_appears_only_on_success(tmp_path):
    target = tmp_path / "out" / "result.json"
    with atomic_output(target) as temporary:
        assert temporary.suffix == ".json"
        assert temporary.parent == target.parent
        temporary.write_text("{}")
        assert not target.exists()
    assert target.read_text() == "{}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_failure_leaves_nothing(tmp_path):
    target = tmp_path / "result.bin"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("encoder died")
    assert list(tmp_path.iterdir()) == []


def test_directory_output_replaces_old_one(tmp_path):
    target = tmp_path / "sequence"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    with atomic_output(target) as temporary:
        temporary.mkdir()
        (temporary / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
