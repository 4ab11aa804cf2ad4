"""anon_hosting/zip_utf8.py replaces a zipstream-ng internal; this fails, naming that module, when an
upgrade no longer writes both headers' names through it or no longer sizes names as their bytes."""

import io
import struct
import zipfile
from importlib.metadata import version

import pytest
from zipstream import ZipStream

from anon_hosting import zip_utf8

NEEDS = f"anon_hosting/zip_utf8.py needs it; zipstream-ng {version('zipstream-ng')} is installed"
LOCAL_HEADER = struct.Struct(zipfile.structFileHeader)
FLAGS, NAME_LENGTH, EXTRA_LENGTH = 3, 10, 11  # fields of zipfile.structFileHeader


def local_header(data: bytes, offset: int) -> tuple[tuple, bytes, bytes]:
    """The local header at ``offset``: its fixed fields, its name's bytes and its extra field."""
    fields = LOCAL_HEADER.unpack_from(data, offset)
    assert fields[0] == zipfile.stringFileHeader, f"no local header at {offset}"
    name_at = offset + LOCAL_HEADER.size
    extra_at = name_at + fields[NAME_LENGTH]
    return fields, data[name_at:extra_at], data[extra_at:extra_at + fields[EXTRA_LENGTH]]


@pytest.mark.parametrize("name", ["a.txt", "dir/b.bin", "Käfer.bin", "写真/猫.png"])
def test_zipstream_still_writes_and_sizes_both_headers_names_through_the_replaced_method(name):
    zip_utf8.install()
    stream = ZipStream(sized=True)
    stream.add(b"some bytes", name)
    predicted = len(stream)
    data = bytes(stream)
    assert len(data) == predicted, f"a sized ZipStream no longer counts a name as its UTF-8 bytes: {NEEDS}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        [info] = archive.infolist()
    fields, local_name, _ = local_header(data, info.header_offset)
    assert fields[FLAGS] & zip_utf8.UTF8_NAME_FLAG and local_name == name.encode(), (
        f"zipstream-ng's local header no longer takes its name and flags from _encodeFilenameFlags: {NEEDS}")
    assert info.flag_bits & zip_utf8.UTF8_NAME_FLAG and info.filename == name, (
        f"zipstream-ng's central header no longer takes its name and flags from _encodeFilenameFlags: {NEEDS}")
