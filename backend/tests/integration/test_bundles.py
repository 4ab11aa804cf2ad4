"""Bundles over HTTP from a real gunicorn, on local disk and on SeaweedFS (S3).

Several ``file`` parts make one bundle, and so do finished tus uploads joined by ``POST /api/bundles``;
its zip must pass Python's ``zipfile``, Info-ZIP's ``unzip -t`` and libarchive's ``bsdtar``, and extract
byte for byte, with every hostile path kept inside the folder it is extracted into. Counting, tampering,
racing joins and the storage scan are checked too.
"""

import os
import subprocess
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import pytest
import requests

from anon_hosting.bundles import member_name
from anon_hosting.storage.s3_expiry import FOLDER as EXPIRY_FOLDER

from ..storage.stores import local_blob, replace_local_blob
from .transfer import MIB, error_code, info, upload_bundle, wait_until
from .tus_client import Upload, b64url

UTF8_FLAG, DESCRIPTOR_FLAG = 0x800, 0x08
PREFIX = "bundles/"


@pytest.fixture(scope="module", params=["local", "s3"])
def server(request, serve):
    extra, bucket = {"SWEEP_INTERVAL": "0"}, None
    if request.param == "s3":
        s3 = request.getfixturevalue("s3_server")
        bucket = (s3.client(), s3.new_bucket())
        extra.update(s3.env(bucket[1], PREFIX))
    with serve(f"bundles-{request.param}", workers=2, extra_env=extra) as server:
        server.kind, server.bucket = request.param, bucket
        yield server


def retrieve(server, token: str, **body) -> requests.Response:
    return requests.post(server.url("/api/files/retrieve"), json={"token": token, **body}, timeout=120)


def extract_checked(archive: bytes, folder: Path) -> dict[str, bytes]:
    """The zip checked by zipfile, unzip -t and bsdtar -tf, then extracted by bsdtar: {path: bytes}."""
    with zipfile.ZipFile(BytesIO(archive)) as zf:
        assert zf.testzip() is None
        assert all(i.flag_bits & DESCRIPTOR_FLAG and i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        assert all(i.flag_bits & UTF8_FLAG for i in zf.infolist())
        listed = [i.filename for i in zf.infolist()]
    path = folder / "bundle.zip"
    path.write_bytes(archive)
    tested = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, check=False)
    assert tested.returncode == 0 and "No errors detected" in tested.stdout, tested.stdout + tested.stderr
    names = subprocess.run(["bsdtar", "-tf", str(path)], capture_output=True, text=True, check=True).stdout
    assert names.splitlines() == listed
    out = folder / "out"
    out.mkdir()
    subprocess.run(["bsdtar", "-xf", str(path), "-C", str(out)], check=True)
    found = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))
    return found


@pytest.mark.parametrize("count", [3, 300])
def test_a_bundle_round_trips_as_a_zip_and_file_by_file(server, tmp_path, count):
    if count == 3:
        files = [(os.urandom(MIB + 17), "photos/2026/a.jpg"), (b"", "empty.txt"), (os.urandom(5000), "résumé.pdf")]
    else:
        files = [(os.urandom(4096), f"docs/{i:03}.bin") for i in range(count)]
    answer = upload_bundle(server, files, {"bundle_name": "holiday"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["kind"], body["name"], body["size"]) == ("bundle", "holiday.zip", sum(len(d) for d, _ in files))
    assert body["files"] == [{"index": i, "name": n, "size": len(d)} for i, (d, n) in enumerate(files)]
    assert len(body["token"]) <= 360
    described = info(server, body["token"]).json()
    assert (described["kind"], len(described["files"]), described["files"][-1]["downloads_left"]) == (
        "bundle", count, None)
    whole = retrieve(server, body["token"])
    assert whole.status_code == 200 and whole.headers["Content-Type"] == "application/zip"
    assert int(whole.headers["Content-Length"]) == len(whole.content)
    assert 'filename="holiday.zip"' in whole.headers["Content-Disposition"]
    assert extract_checked(whole.content, tmp_path) == {n: d for d, n in files}
    for i in (0, count - 1):
        one = retrieve(server, body["token"], file=i)
        assert one.status_code == 200 and one.content == files[i][0]
        assert one.headers["Content-Type"] == "application/octet-stream"


def test_hostile_paths_are_cleaned_and_repeats_renamed(server, tmp_path):
    # a quoted filename escapes its backslashes: a\\b in the part header arrives as a\b
    hostile = ["../x", "/etc/passwd", "a\\\\b", "nul\x00name", "z" * 300 + ".txt", "..", "./../../up/../y"]
    files = [(f"#{i}".encode(), name) for i, name in enumerate(hostile)] + [(b"same", "same.txt")] * 993
    answer = upload_bundle(server, files)
    assert answer.status_code == 201, answer.text
    shown = [f["name"] for f in answer.json()["files"]]
    assert shown[:4] == ["x", "etc/passwd", "a/b", "nulname"]
    assert len(shown[4]) <= 200 and shown[4].endswith(".txt")
    assert all(not n.startswith("/") and ".." not in n.split("/") and "\\" not in n and "\0" not in n for n in shown)
    extracted = extract_checked(retrieve(server, answer.json()["token"]).content, tmp_path)
    assert len(extracted) == 1000
    assert extracted["same.txt"] == extracted["same (2).txt"] == extracted["same (993).txt"] == b"same"


def test_a_one_time_bundle_gives_one_zip_to_eight_racing_clients(server):
    files = [(os.urandom(MIB + 1), "one.bin"), (os.urandom(3000), "two.bin")]
    token = upload_bundle(server, files, {"max_downloads": "1"}).json()["token"]
    start = threading.Barrier(8)

    def fetch(_):
        start.wait(30)
        response = requests.post(server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
        return response.status_code, error_code(response), len(response.content)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, range(8)))
    assert [r[0] for r in results].count(200) == 1, results
    assert all((s, c) in {(409, "download_in_progress"), (410, "download_limit_reached")}
               for s, c, _ in results if s != 200), results
    assert wait_until(lambda: error_code(retrieve(server, token, file=1)) == "download_limit_reached")


def test_a_zip_needs_every_file_and_each_file_counts_on_its_own(server):
    files = [(b"first", "a.txt"), (b"second", "b.txt")]
    token = upload_bundle(server, files, {"max_downloads": "1"}).json()["token"]
    assert retrieve(server, token, file=0).content == b"first"
    assert wait_until(lambda: info(server, token).json()["files"][0]["downloads_left"] == 0)
    refused = retrieve(server, token)
    assert (refused.status_code, error_code(refused)) == (410, "download_limit_reached")
    assert retrieve(server, token, file=1).content == b"second"
    assert wait_until(lambda: error_code(info(server, token)) == "download_limit_reached")


def test_bad_file_indices_are_refused(server):
    token = upload_bundle(server, [(b"1", "a"), (b"2", "b")]).json()["token"]
    for bad in (2, -1, "x", 1.5, True):
        answer = retrieve(server, token, file=bad)
        assert (answer.status_code, error_code(answer)) == (400, "bad_request"), bad


def test_the_owner_token_deletes_manifest_blobs_and_state(server):
    before = stored_names(server)
    answer = upload_bundle(server, [(os.urandom(2 * MIB), "big.bin"), (b"small", "small.txt")]).json()
    assert len(stored_names(server) - before) == 3
    deleted = requests.post(server.url("/api/files/delete"), json={"token": answer["owner_token"]}, timeout=30)
    assert deleted.status_code == 204
    assert stored_names(server) == before
    gone = retrieve(server, answer["token"])
    assert (gone.status_code, error_code(gone)) == (404, "not_found")


def test_storage_holds_no_plaintext_and_no_names(server):
    marker = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    names = ["secret-holiday-photo.jpg", "confidential/report-2026.pdf"]
    answer = upload_bundle(server, [(marker * 1000, names[0]), (marker, names[1])], {"bundle_name": "private-pack"})
    assert answer.status_code == 201
    everything = stored_bytes(server)
    for needle in [marker, b"secret-holiday", b"report-2026", b"confidential", b"private-pack"]:
        assert needle not in everything, needle


def test_a_tampered_manifest_is_an_error_before_any_byte(server):
    if server.kind != "local":
        pytest.skip("the blob is damaged where the local backend keeps it")
    token, manifest = upload_and_find(server, [(b"x" * 10, "a"), (b"y", "b")])
    blob = local_blob(server.storage_dir, manifest)
    replace_local_blob(server.storage_dir, manifest, blob[:-5] + bytes([blob[-5] ^ 1]) + blob[-4:])
    for answer in (retrieve(server, token), retrieve(server, token, file=0), info(server, token)):
        assert (answer.status_code, error_code(answer)) == (500, "internal_error")


def test_a_tampered_file_cuts_the_zip_short(server):
    if server.kind != "local":
        pytest.skip("the blob is damaged where the local backend keeps it")
    data = os.urandom(3 * MIB)
    token, manifest = upload_and_find(server, [(b"first", "a.txt"), (data, "b.bin")])
    victim = member_name(manifest, 1)
    blob = bytearray(local_blob(server.storage_dir, victim))
    blob[len(blob) - MIB // 2] ^= 0x40  # in the last chunk: the zip's headers and first file are already out
    replace_local_blob(server.storage_dir, victim, bytes(blob))
    with requests.post(server.url("/api/files/retrieve"), json={"token": token}, stream=True, timeout=60) as answer:
        assert answer.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(answer.iter_content(65536))


def upload_and_find(server, files) -> tuple[str, str]:
    before = stored_names(server)
    answer = upload_bundle(server, files)
    assert answer.status_code == 201, answer.text
    new = stored_names(server) - before
    [manifest] = [n for n in new if member_name(n, 0) in new]
    return answer.json()["token"], manifest


def stored_names(server) -> set[str]:
    if server.kind == "local":
        return {n.removesuffix(".state") for n in server.storage_entries() if n.endswith(".state")}
    return {key.removesuffix(".state") for key in _s3_keys(server) if key.endswith(".state")}


def stored_bytes(server) -> bytes:
    if server.kind == "local":
        return b"".join(p.read_bytes() for p in Path(server.storage_dir).rglob("*") if p.is_file())
    client, bucket = server.bucket
    return b"".join(client.get_object(Bucket=bucket, Key=PREFIX + key)["Body"].read() + key.encode()
                    for key in _s3_keys(server))


def _s3_keys(server) -> list[str]:
    client, bucket = server.bucket
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX)
    keys = [obj["Key"].removeprefix(PREFIX) for page in pages for obj in page.get("Contents", [])]
    return [k for k in keys if not k.startswith(EXPIRY_FOLDER)]


# -- bundles joined from tus uploads -------------------------------------------------


def tus_uploads(server, files, member: bool = False) -> list[Upload]:
    """Finished tus uploads of ``files`` ((bytes, path)); the first is cut mid-file and resumed first."""
    uploads = [Upload(server.base_url, data, name=path.rpartition("/")[2], member=member) for data, path in files]
    uploads[0].cut(0, len(files[0][0]) // 2 + 1)
    for upload in uploads:
        upload.resume()
    return uploads


def join(server, uploads, paths=None, **options) -> requests.Response:
    entries = [{"id": u.id, "secret": b64url(u.secret), **({"path": paths[i]} if paths else {})}
               for i, u in enumerate(uploads)]
    return requests.post(server.url("/api/bundles"), json={"uploads": entries, **options}, timeout=60)


def test_a_bundle_joined_from_tus_uploads_round_trips_and_spends_the_uploads(server, tmp_path):
    files = [(os.urandom(2 * MIB + 17), "photos/2026/a.jpg"), (b"", "empty.txt"), (os.urandom(5000), "résumé.pdf")]
    uploads = tus_uploads(server, files)
    answer = join(server, uploads, [p for _, p in files], bundle_name="holiday")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["kind"], body["name"], len(body["token"]) <= 360) == ("bundle", "holiday.zip", True)
    assert body["files"] == [{"index": i, "name": n, "size": len(d)} for i, (d, n) in enumerate(files)]
    assert extract_checked(retrieve(server, body["token"]).content, tmp_path) == {n: d for d, n in files}
    assert [retrieve(server, body["token"], file=i).content for i in range(3)] == [d for d, _ in files]
    for upload in uploads:
        own = retrieve(server, upload.answer["token"])
        assert (own.status_code, error_code(own)) == (404, "not_found")
        assert upload.result().status_code == 404
    again = join(server, uploads)
    assert (again.status_code, error_code(again)) == (404, "not_found")


def test_bundle_members_cut_resumed_and_joined_round_trip(server, tmp_path):
    """As the page sends a large bundle: each file a member's upload, with no token of its own, the first cut
    past S3's first 8 MiB part and resumed; only the join makes them reachable, as one bundle."""
    files = [(os.urandom(9 * MIB + 17), "film/raw.mov"), (b"", "empty.txt"), (os.urandom(5000), "notes/résumé.pdf")]
    before = stored_names(server)
    uploads = tus_uploads(server, files, member=True)
    for upload, (data, path) in zip(uploads, files, strict=True):
        name = path.rpartition("/")[2]
        assert (upload.answer["kind"], upload.answer["name"], upload.answer["size"]) == ("member", name, len(data))
        assert not {"token", "owner_token"} & upload.answer.keys()
        assert upload.result().json() == upload.answer
    answer = join(server, uploads, [p for _, p in files])
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["files"] == [{"index": i, "name": n, "size": len(d)} for i, (d, n) in enumerate(files)]
    assert extract_checked(retrieve(server, body["token"]).content, tmp_path) == {n: d for d, n in files}
    assert retrieve(server, body["token"], file=0).content == files[0][0]
    assert all(upload.result().status_code == 404 for upload in uploads)
    again = join(server, uploads)
    assert (again.status_code, error_code(again)) == (404, "not_found")
    deleted = requests.post(server.url("/api/files/delete"), json={"token": body["owner_token"]}, timeout=30)
    assert deleted.status_code == 204
    assert stored_names(server) == before


def test_a_join_that_fails_on_one_file_gives_the_others_back(server):
    uploads = tus_uploads(server, [(os.urandom(1000 + n), f"{n}.bin") for n in range(12)])
    owner = uploads[7].answer["owner_token"]
    assert requests.post(server.url("/api/files/delete"), json={"token": owner}, timeout=30).status_code == 204
    refused = join(server, uploads)
    assert (refused.status_code, error_code(refused)) == (404, "not_found")
    kept = uploads[:7] + uploads[8:]
    assert [retrieve(server, u.answer["token"]).content for u in kept] == [u.data for u in kept]
    joined = join(server, kept)
    assert joined.status_code == 201, joined.text
    assert [retrieve(server, joined.json()["token"], file=i).content for i in range(11)] == [u.data for u in kept]


def test_racing_joins_of_the_same_uploads_make_one_bundle(server):
    uploads = tus_uploads(server, [(os.urandom(MIB + 5), "a"), (b"b", "b"), (b"c", "c")])
    start = threading.Barrier(6)

    def attempt(_):
        start.wait(30)
        answer = join(server, uploads)
        return answer.status_code, error_code(answer)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(attempt, range(6)))
    assert [status for status, _ in results].count(201) == 1, results
    assert all(result == (404, "not_found") for result in results if result[0] != 201), results


def test_a_joined_one_time_bundle_and_its_owner_delete(server):
    before = stored_names(server)
    files = [(os.urandom(MIB + 3), "big.bin"), (b"small", "small.txt")]
    uploads = tus_uploads(server, files)
    body = join(server, uploads, max_downloads=1).json()
    new = stored_names(server) - before
    assert len(new) == 3 and {u.id for u in uploads} < new  # the files stay under their upload ids
    assert retrieve(server, body["token"], file=1).content == b"small"
    assert wait_until(lambda: info(server, body["token"]).json()["files"][1]["downloads_left"] == 0)
    refused = retrieve(server, body["token"])
    assert (refused.status_code, error_code(refused)) == (410, "download_limit_reached")
    deleted = requests.post(server.url("/api/files/delete"), json={"token": body["owner_token"]}, timeout=30)
    assert deleted.status_code == 204
    assert stored_names(server) == before


def test_a_joined_bundle_leaves_no_plaintext_names_or_secrets_at_rest(server):
    marker = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    files = [(marker * 1000, "secret-holiday-photo.jpg"), (marker, "report-2026.pdf")]
    uploads = tus_uploads(server, files)
    assert join(server, uploads, ["confidential/a.jpg", "confidential/b.pdf"], bundle_name="private-pack").ok
    everything = stored_bytes(server)
    needles = [marker, b"secret-holiday", b"report-2026", b"confidential", b"private-pack"]
    needles += [b64url(u.secret).encode() for u in uploads] + [u.secret for u in uploads]
    for needle in needles:
        assert needle not in everything, needle
