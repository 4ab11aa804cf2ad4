"""Every zip entry's name marked as UTF-8 (general-purpose bit 11), ASCII names included.

Contract: after ``install()``, every zipstream-ng ``ZipStream`` in the process writes each entry's
name as UTF-8 with bit 11 set, in its local header and in the central directory. An ASCII name is
the same bytes in ASCII and in UTF-8, so no header grows and a sized stream's length is unchanged.
zipstream-ng has no public option for this: it sets the bit only on a non-ASCII name.

zipstream-ng internals it relies on (not documented API):
- ``zipstream.ng.ZipStreamInfo._encodeFilenameFlags()``, which ``FileHeader`` and
  ``_central_directory_header_data`` call for the name bytes and flag bits of both headers;
- ``ZipStream._add_size_from_file``, which counts a name as its ASCII, else UTF-8, bytes.
tests/test_zip_utf8.py fails with this module's name when an upgrade changes either.
"""

from zipstream import ng

UTF8_NAME_FLAG = 0x800


def _utf8_name_and_flags(info: ng.ZipStreamInfo) -> tuple[bytes, int]:
    return info.filename.encode("utf-8"), info.flag_bits | UTF8_NAME_FLAG


def install() -> None:
    ng.ZipStreamInfo._encodeFilenameFlags = _utf8_name_and_flags
