"""The console script with bundles, against a real gunicorn: put several files or a folder as one
bundle, then get its zip, its files into a folder, or one file, and list it with info."""

import json
import zipfile

from ..integration.transfer import MIB, wait_until, write_random_file
from .test_cli import _json


def _tree(root):
    (root / "photos" / "2026").mkdir(parents=True)
    write_random_file(root / "photos" / "2026" / "a.jpg", MIB + 3)
    (root / "photos" / "notes é.txt").write_bytes(b"notes")
    (root / "photos" / "empty").write_bytes(b"")
    return root / "photos"


def test_a_folder_and_a_file_go_up_as_one_bundle_and_come_back_three_ways(cli, workdir):
    folder = _tree(workdir / "src")
    (workdir / "extra.bin").write_bytes(b"extra")
    put = cli("put", str(folder), "extra.bin", "--bundle", "--name", "trip", "--max-downloads", "3", "--json")
    assert put.returncode == 0, put.stderr
    answer = _json(put)
    assert (answer["kind"], answer["name"], len(answer["token"]) <= 360) == ("bundle", "trip.zip", True)
    assert [f["name"] for f in answer["files"]] == ["photos/2026/a.jpg", "photos/empty", "photos/notes é.txt",
                                                    "extra.bin"]
    token = answer["token"]
    listed = cli("info", "-", input=token)
    assert listed.returncode == 0 and "[0]" in listed.stdout and "photos/notes é.txt  (3 left)" in listed.stdout

    got = cli("get", "-", "-o", "saved.zip", input=token)
    assert got.returncode == 0, got.stderr
    with zipfile.ZipFile(workdir / "saved.zip") as archive:
        assert archive.testzip() is None and archive.read("extra.bin") == b"extra"
    out = cli("get", "-", "--extract", "out", input=token)
    assert out.returncode == 0, out.stderr
    assert (workdir / "out" / "photos" / "2026" / "a.jpg").read_bytes() == (folder / "2026" / "a.jpg").read_bytes()
    assert sorted(p.name for p in (workdir / "out").rglob("*") if p.is_file()) == [
        "a.jpg", "empty", "extra.bin", "notes é.txt"]
    one = cli("get", "-", "--file", "2", input=token)
    assert one.returncode == 0 and (workdir / "notes é.txt").read_bytes() == b"notes"

    def left():  # a download counts once its last byte is out, which may be after the client has it
        return [f["downloads_left"] for f in json.loads(cli("info", "-", "--json", input=token).stdout)["files"]]
    assert wait_until(lambda: left() == [1, 1, 0, 1]), left()


def test_folders_need_bundle_and_bundle_options_need_a_bundle(cli, workdir):
    _tree(workdir)
    refused = cli("put", "photos")
    assert refused.returncode == 2 and "--bundle" in refused.stderr
    (workdir / "one.txt").write_bytes(b"1")
    plain = _json(cli("put", "one.txt", "--json"))
    wrong = cli("get", "-", "--file", "0", input=plain["token"])
    assert wrong.returncode == 2 and "bundles" in wrong.stderr
    bundled = _json(cli("put", "photos", "--bundle", "--json"))
    out_of_range = cli("get", "-", "--file", "9", input=bundled["token"])
    assert out_of_range.returncode == 2 and "0 to 2" in out_of_range.stderr


def test_extract_refuses_to_overwrite_and_leaves_no_partial_zip(cli, workdir):
    (workdir / "a").write_bytes(b"new a")
    (workdir / "b").write_bytes(b"new b")
    token = _json(cli("put", "a", "b", "--bundle", "--json"))["token"]
    (workdir / "out").mkdir()
    (workdir / "out" / "b").write_bytes(b"mine")
    clash = cli("get", "-", "--extract", "out", input=token)
    assert clash.returncode == 2 and "exists already" in clash.stderr
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["b"]
    assert (workdir / "out" / "b").read_bytes() == b"mine"
