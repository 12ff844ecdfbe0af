import json
from pathlib import Path

import pytest

from traincraft._util.atomic import atomic_write_json, atomic_write_text, replace_dir, resolve_dir


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_write_text(tmp_path / "a.json", '{"x": 2}')
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write_json(target, {"ok": True})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_replace_dir_swaps_whole_directories(tmp_path: Path) -> None:
    target = tmp_path / "last"
    replace_dir(target, lambda d: (d / "w").write_text("1"))
    replace_dir(target, lambda d: (d / "w").write_text("2"))
    assert (target / "w").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_resolve_dir_falls_back_to_old_after_a_kill_mid_swap(tmp_path: Path) -> None:
    target = tmp_path / "last"
    replace_dir(target, lambda d: (d / "w").write_text("1"))
    target.rename(tmp_path / "last.old")  # what a kill between the two renames leaves
    assert resolve_dir(target) == tmp_path / "last.old"
    assert resolve_dir(tmp_path / "nothing") is None


def test_failed_fill_keeps_the_old_directory(tmp_path: Path) -> None:
    target = tmp_path / "last"
    replace_dir(target, lambda d: (d / "w").write_text("1"))

    def broken(d: Path) -> None:
        (d / "w").write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        replace_dir(target, broken)
    assert (target / "w").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
