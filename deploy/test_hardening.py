"""The containers as they run: users, read-only root file systems, and the private folder's mode."""

import pytest

UIDS = "import os; print(sorted({os.stat(f'/proc/{p}').st_uid for p in os.listdir('/proc') if p.isdigit()}))"


@pytest.fixture(scope="module")
def backends(stack):
    return stack.containers("backend")


def test_every_backend_process_runs_as_uid_10001(stack, backends):
    for name in backends:
        assert stack.exec(name, "python3", "-c", UIDS).stdout.strip() == "[10001]", name


def test_every_nginx_process_runs_as_www_data(stack):
    for name in stack.containers("nginx"):
        assert stack.exec(name, "sh", "-c", "id -u").stdout.strip() == "33"
        # nginx has no python3: read the owners of /proc's process folders with stat.
        owners = stack.exec(name, "sh", "-c", "stat -c %u /proc/[0-9]*").stdout.split()
        assert owners and set(owners) == {"33"}, owners


@pytest.mark.parametrize("service", ["backend", "nginx"])
def test_no_capabilities_and_no_new_privileges(stack, service):
    """cap_drop: ALL empties even the bounding set; no-new-privileges holds for every process."""
    for name in stack.containers(service):
        status = dict(line.split(":\t", 1) for line in stack.exec(name, "cat", "/proc/1/status").stdout.splitlines()
                      if ":\t" in line)
        assert status["CapBnd"].strip() == status["CapEff"].strip() == "0000000000000000", name
        assert status["NoNewPrivs"].strip() == "1", name


@pytest.mark.parametrize("path", ["/app/new-file", "/opt/venv/new-file", "/etc/new-file", "/data/new-file"])
def test_backend_cannot_write_its_root_filesystem(stack, backends, path):
    for name in backends:
        result = stack.exec(name, "sh", "-c", f"echo x > {path}", check=False)
        assert result.returncode != 0 and "Read-only file system" in result.stderr, (name, result.stderr)


def test_backend_can_write_where_it_must(stack, backends):
    """The same write succeeds on /tmp (a tmpfs) and the two volumes: the refusals above are the root's."""
    for name in backends:
        for folder in ("/tmp", "/data/files", "/data/private"):
            result = stack.exec(name, "sh", "-c", f"echo x > {folder}/.probe && rm {folder}/.probe", check=False)
            assert result.returncode == 0, (name, folder, result.stderr)


def test_nginx_cannot_write_its_root_filesystem(stack):
    for name in stack.containers("nginx"):
        result = stack.exec(name, "sh", "-c", "echo x > /etc/nginx/new-file", check=False)
        assert result.returncode != 0 and "Read-only file system" in result.stderr


def test_private_folder_is_0700_and_the_key_set_0600(stack, backends):
    for name in backends:
        assert stack.exec(name, "stat", "-c", "%a %u", "/data/private").stdout.split() == ["700", "10001"]
        assert stack.exec(name, "stat", "-c", "%a %u", "/data/private/keyset.jwe").stdout.split() == ["600", "10001"]


def test_only_nginx_publishes_a_port(stack, backends):
    for name in backends:
        assert stack.inspect(name, "{{json .NetworkSettings.Ports}}") in ("{}", "null", '{"8000/tcp":null}')
    assert stack.url().startswith("http://127.0.0.1:")


def test_backend_runs_debian_python_311(stack, backends):
    version = stack.exec(backends[0], "python3", "-c", "import sys; print(sys.executable, sys.version_info[:2])")
    assert version.stdout.split(" ", 1) == ["/opt/venv/bin/python3", "(3, 11)\n"]
    interpreter = stack.exec(backends[0], "readlink", "-f", "/opt/venv/bin/python3").stdout.strip()
    assert interpreter == "/usr/bin/python3.11"  # Debian's, not one built into the venv
