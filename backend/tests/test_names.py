"""Relative paths of a folder drop: kept, but never able to climb out or start at the root."""

import pytest

from anon_hosting import names


@pytest.mark.parametrize("raw,clean", [
    ("photos/2026/a.jpg", "photos/2026/a.jpg"),
    ("../x", "x"),
    ("/etc/passwd", "etc/passwd"),
    ("a\\b", "a/b"),
    ("C:\\Users\\me\\a.txt", "C:/Users/me/a.txt"),
    ("nul\x00name", "nulname"),
    ("./../../up/../y", "up/y"),
    ("a//b/", "a/b"),
    ("..", names.FALLBACK),
    ("", names.FALLBACK),
    (" / . /\u202e", names.FALLBACK),
    ("dir\u200b/\u202eevil.txt", "dir/evil.txt"),
])
def test_clean_path(raw, clean):
    assert names.clean_path(raw) == clean


def test_long_paths_keep_their_last_segments_within_the_bounds():
    deep = "/".join(["d" * 150] * 40) + "/file.txt"
    cleaned = names.clean_path(deep)
    assert cleaned.endswith("/file.txt") and len(cleaned) <= names.MAX_PATH_LENGTH
    assert len(cleaned.split("/")) <= names.MAX_SEGMENTS
    assert all(len(s) <= names.MAX_LENGTH for s in names.clean_path("z" * 300 + "/" + "y" * 300).split("/"))
