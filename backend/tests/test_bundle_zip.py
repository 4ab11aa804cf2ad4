"""The streamed zip: what zipstream-ng writes for a bundle, read back by zipfile."""

import io
import os
import zipfile

import pytest

from anon_hosting.bundle_zip import unique_paths, zip_of


def _read(members):
    chunks, size = zip_of(members)
    data = b"".join(chunks)
    assert len(data) == size
    return zipfile.ZipFile(io.BytesIO(data))


def test_entries_are_stored_with_data_descriptors_and_the_length_is_known_first():
    payload = os.urandom(70_000)
    opened = []

    def opener(name, data):
        def chunks():
            opened.append(name)
            yield from (data[i:i + 8192] for i in range(0, len(data), 8192))
        return chunks

    members = [("dir/a.bin", len(payload), opener("a", payload)), ("ü.txt", 0, opener("b", b""))]
    chunks, size = zip_of(members)
    assert opened == []  # nothing is opened before the zip is iterated
    data = b"".join(chunks)
    assert len(data) == size and opened == ["a", "b"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["dir/a.bin", "ü.txt"]
        assert all(i.compress_type == zipfile.ZIP_STORED and i.flag_bits & 0x08 for i in infos)
        assert infos[1].flag_bits & 0x800
        assert zf.read("dir/a.bin") == payload


def test_a_source_that_fails_or_comes_up_short_raises_instead_of_ending_the_zip():
    def broken():
        yield b"x" * 100
        raise OSError("blob gone")

    with pytest.raises(OSError):
        b"".join(zip_of([("a", 200, broken)])[0])
    with pytest.raises(RuntimeError):
        b"".join(zip_of([("a", 200, lambda: iter([b"short"]))])[0])


@pytest.mark.parametrize("paths,unique", [
    (["a.jpg", "a.jpg", "a.jpg"], ["a.jpg", "a (2).jpg", "a (3).jpg"]),
    (["A.txt", "a.txt"], ["A.txt", "a (2).txt"]),
    (["x/noext", "x/noext", "y/noext"], ["x/noext", "x/noext (2)", "y/noext"]),
    (["a.jpg", "a (2).jpg", "a.jpg"], ["a.jpg", "a (2).jpg", "a (3).jpg"]),
    ([".env", ".env"], [".env", ".env (2)"]),
])
def test_repeated_paths_get_a_number(paths, unique):
    assert unique_paths(paths) == unique


def test_a_thousand_identical_names_stay_linear_and_distinct():
    unique = unique_paths(["same.txt"] * 1000)
    assert len(set(unique)) == 1000 and unique[-1] == "same (1000).txt"
