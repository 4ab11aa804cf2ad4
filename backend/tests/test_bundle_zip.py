"""The streamed zip: what zipstream-ng writes for a bundle, read back by zipfile, unzip and bsdtar."""

import io
import os
import struct
import subprocess
import zipfile

import pytest

from anon_hosting.bundle_zip import unique_paths, zip_of

from .test_zip_utf8 import FLAGS, local_header

UTF8_NAME, DESCRIPTOR = 0x800, 0x08
SIZES = {"photos/2026/a.jpg": 70_000, "notes.txt": 12, "résumé.pdf": 3000, "写真/猫.png": 500, "Käfer/ä.bin": 1,
         "empty": 0}
NAMES = list(SIZES)
UTF8_LOCALE = {**os.environ, "LC_ALL": "C.UTF-8"}


def _zipped(files: dict[str, bytes]) -> bytes:
    chunks, size = zip_of((name, len(data), lambda data=data: iter([data])) for name, data in files.items())
    data = b"".join(chunks)
    assert len(data) == size
    return data


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=UTF8_LOCALE, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


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


def test_every_name_is_utf8_flagged_in_both_headers_and_unzip_and_bsdtar_read_it_back(tmp_path):
    files = {name: os.urandom(size) for name, size in SIZES.items()}
    data = _zipped(files)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert archive.testzip() is None
        assert {info.filename: archive.read(info) for info in infos} == files
    assert [info.filename for info in infos] == NAMES
    for info in infos:
        fields, local_name, _ = local_header(data, info.header_offset)
        assert info.flag_bits & (UTF8_NAME | DESCRIPTOR) == UTF8_NAME | DESCRIPTOR, info.filename
        assert fields[FLAGS] & (UTF8_NAME | DESCRIPTOR) == UTF8_NAME | DESCRIPTOR, info.filename
        assert local_name == info.filename.encode() and info.compress_type == zipfile.ZIP_STORED
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    assert "No errors detected" in _run("unzip", "-t", str(path))
    assert _run("unzip", "-Z1", str(path)).splitlines() == NAMES
    assert _run("bsdtar", "-tf", str(path)).splitlines() == NAMES
    (tmp_path / "out").mkdir()
    _run("bsdtar", "-xf", str(path), "-C", str(tmp_path / "out"))
    assert {name: (tmp_path / "out" / name).read_bytes() for name in NAMES} == files


def test_an_entry_past_the_zip64_limit_gets_a_zip64_local_header_with_the_utf8_flag():
    size = 3 * 2**30  # only the header is read, so the entry's bytes are never made
    chunks, _ = zip_of([("big/ü.bin", size, lambda: pytest.fail("an entry's source opened for its header"))])
    stream = iter(chunks)
    header = next(stream)
    stream.close()
    fields, name, extra = local_header(header, 0)
    assert name == "big/ü.bin".encode() and fields[FLAGS] & (UTF8_NAME | DESCRIPTOR) == UTF8_NAME | DESCRIPTOR
    assert fields[1] >= zipfile.ZIP64_VERSION and fields[8:10] == (0xFFFFFFFF, 0xFFFFFFFF)
    assert struct.unpack_from("<HH", extra) == (1, 16)  # the ZIP64 extended information field
