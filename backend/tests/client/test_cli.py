"""The ``anon-hosting`` console script against a real gunicorn: journeys a person or a script would make.

Every command runs as a subprocess of the installed console script. Tokens come
from .jwe files, share links, stdin and prompts (on a pseudo-terminal), never
only from the command line.
"""

import json
import re
import subprocess
import time

from stacklib import memory

from ..integration.transfer import MIB, sha256_file, write_random_file
from .conftest import ANON_HOSTING, client_env, record_tokens
from .terminal import Terminal

BIG = 100 * MIB
MAX_CLIENT_RSS = 60 * MIB


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _run_measured(args, cwd, env) -> tuple[int, int, str]:
    process = subprocess.Popen([str(ANON_HOSTING), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    with memory.RssSampler(memory.itself(process.pid), 0.01) as sampler:
        stdout, stderr = process.communicate(timeout=600)
    peak = sampler.peak
    assert process.returncode == 0, stderr
    assert sampler.samples > 10, "the RSS was hardly sampled"
    return process.returncode, peak, stdout


def test_console_script_is_installed():
    assert ANON_HOSTING.is_file(), "run `make setup` (pip install -e backend) to install the console script"


def test_100_mib_round_trip_in_flat_memory(server, workdir):
    digest = write_random_file(workdir / "big.bin", BIG)
    env = client_env(server)
    _, put_peak, _ = _run_measured(["put", "big.bin", "-o", "tokens", "--expires", "1h"], workdir, env)
    record_tokens(server, folder=workdir / "tokens")
    (workdir / "out").mkdir()
    _, get_peak, stdout = _run_measured(["get", "tokens/big.bin.jwe", "-o", "out"], workdir, env)
    assert "Saved out/big.bin" in stdout
    assert sha256_file(workdir / "out" / "big.bin") == digest
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["big.bin"], "a temp file was left behind"
    print(f"peak RSS of the client: put {put_peak / MIB:.1f} MiB, get {get_peak / MIB:.1f} MiB")
    assert put_peak < MAX_CLIENT_RSS, f"put peaked at {put_peak / MIB:.1f} MiB"
    assert get_peak < MAX_CLIENT_RSS, f"get peaked at {get_peak / MIB:.1f} MiB"


def test_put_labels_what_to_share_and_what_to_keep(cli, server, workdir):
    (workdir / "notes.txt").write_text("hello")
    result = cli("put", "notes.txt", "-o", "saved", "--max-downloads", "3", "--expires", "2h")
    assert result.returncode == 0, result.stderr
    token = (workdir / "saved" / "notes.txt.jwe").read_text().strip()
    owner = (workdir / "saved" / "notes.txt.owner-token").read_text().strip()
    assert token != owner
    lines = result.stdout.splitlines()
    share = next(i for i, line in enumerate(lines) if "SHARE" in line)
    keep = next(i for i, line in enumerate(lines) if "KEEP" in line)
    assert f"{server.base_url}/#{token}" in lines[share + 1]
    assert owner in lines[keep + 1] and owner not in "\n".join(lines[:keep])
    assert "3 download(s)" in lines[0]
    assert oct((workdir / "saved" / "notes.txt.jwe").stat().st_mode & 0o777) == "0o600"


def test_durations_set_the_expiry(cli, workdir):
    (workdir / "a.txt").write_text("a")
    before = time.time()
    answer = _json(cli("put", "a.txt", "--expires", "30m", "--json"))
    expires = time.mktime(time.strptime(answer["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 30 * 60 - 5 <= expires - before <= 30 * 60 + 5


def test_token_from_a_jwe_file_a_share_link_and_stdin(cli, workdir):
    (workdir / "doc.txt").write_bytes(b"document bytes")
    answer = _json(cli("put", "doc.txt", "--json"))
    (workdir / "doc.txt.jwe").write_text(answer["token"] + "\n")
    (workdir / "link.txt").write_text(answer["link"])
    for number, (args, stdin) in enumerate([(["doc.txt.jwe"], None), ([answer["link"]], None),
                                            (["-"], answer["link"] + "\n"), (["link.txt"], None)]):
        target = f"copy{number}.txt"
        result = cli("get", *args, "-o", target, input=stdin)
        assert result.returncode == 0, result.stderr
        assert (workdir / target).read_bytes() == b"document bytes"


def test_info_and_delete_with_the_owner_token_file(cli, workdir):
    (workdir / "x.bin").write_bytes(b"x" * 1000)
    assert cli("put", "x.bin", "-o", "t", "--max-downloads", "2").returncode == 0
    info = cli("info", "t/x.bin.jwe")
    assert info.returncode == 0, info.stderr
    assert "x.bin" in info.stdout and "1000 bytes" in info.stdout and "Downloads left: 2" in info.stdout
    assert json.loads(cli("info", "t/x.bin.jwe", "--json").stdout)["downloads_left"] == 2
    deleted = cli("delete", "t/x.bin.owner-token")
    assert deleted.returncode == 0 and "Deleted" in deleted.stdout
    assert cli("info", "t/x.bin.jwe").returncode == 5


def test_an_existing_file_is_not_replaced_and_no_download_is_spent(cli, workdir):
    (workdir / "once.txt").write_text("original")
    assert cli("put", "once.txt", "-o", "t", "--max-downloads", "1").returncode == 0
    refused = cli("get", "t/once.txt.jwe")  # into the cwd, where once.txt already is
    assert refused.returncode == 2 and "exists" in refused.stderr
    assert (workdir / "once.txt").read_text() == "original"
    assert cli("get", "t/once.txt.jwe", "-o", "copy.txt").returncode == 0  # the one download is still there


def test_passphrase_from_a_file_and_from_stdin(cli, workdir):
    (workdir / "secret.txt").write_text("classified")
    (workdir / "pass").write_text("correct horse\n")
    assert cli("put", "secret.txt", "-o", "t", "--passphrase-file", "pass").returncode == 0
    assert cli("get", "t/secret.txt.jwe", "-o", "a.txt", "--passphrase-file", "pass").returncode == 0
    from_stdin = cli("get", "t/secret.txt.jwe", "-o", "b.txt", "--passphrase-file", "-", input="correct horse")
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert (workdir / "a.txt").read_text() == (workdir / "b.txt").read_text() == "classified"


def test_passphrase_and_token_prompts_on_a_terminal(server, workdir):
    (workdir / "diary.txt").write_text("dear diary")
    env = client_env(server)
    put = Terminal([str(ANON_HOSTING), "put", "diary.txt", "-o", "t", "--passphrase-prompt"], workdir, env)
    put.expect("Passphrase for the file(s): ")
    put.send("tr0ub4dor")
    put.expect("Same passphrase again: ")
    put.send("tr0ub4dor")
    code, stdout, screen = put.finish()
    assert code == 0, screen
    assert "tr0ub4dor" not in screen + stdout, "the passphrase was echoed"
    record_tokens(server, folder=workdir / "t")

    get = Terminal([str(ANON_HOSTING), "get", "-o", "copy.txt"], workdir, env)  # no token: asked for
    get.expect("Token (or share link): ")
    get.send((workdir / "t" / "diary.txt.jwe").read_text().strip())
    get.expect("Passphrase: ")
    get.send("wrong guess")
    get.expect("That passphrase is not correct.")
    get.expect("Passphrase: ")
    get.send("tr0ub4dor")
    code, stdout, screen = get.finish()
    assert code == 0, screen
    assert (workdir / "copy.txt").read_text() == "dear diary"


def test_a_cut_download_leaves_no_file(cli, server, workdir):
    write_random_file(workdir / "c.bin", 4 * MIB)
    before = server.storage_entries()
    assert cli("put", "c.bin", "-o", "t").returncode == 0
    (blob,) = [server.storage_dir / name for name in server.storage_entries() - before
               if re.fullmatch(r"[A-Za-z0-9_-]{43}", name)]  # the blob, not its .state or .lock
    with open(blob, "r+b") as f:  # damage a later chunk: the server sends the first, then aborts
        f.seek(3 * MIB)
        byte = f.read(1)
        f.seek(3 * MIB)
        f.write(bytes([byte[0] ^ 1]))
    (workdir / "out").mkdir()
    result = cli("get", "t/c.bin.jwe", "-o", "out")
    assert result.returncode == 3, result.stderr
    assert "cut short" in result.stderr and "Nothing was saved" in result.stderr
    assert list((workdir / "out").iterdir()) == []
