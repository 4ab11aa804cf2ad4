"""nginx for a local stack: the server block rendered from nginx/templates/, and a private prefix around it.

Contract: ``render_site`` fills default.conf.template with string.Template.safe_substitute, so
nginx's own $variables are untouched; ``write_conf`` lays out a prefix (the site, its includes,
a small main nginx.conf) that nginx started as root can read with its workers as ``nobody``;
``frontend_root`` says what nginx serves as the page. Limits per client address are
NGINX_LIMITS (the same defaults as nginx/Dockerfile); NO_NGINX_LIMITS are limits no single
machine reaches, for load tests and e2e journeys where every client is 127.0.0.1.
Standard library only.
"""

from __future__ import annotations

import os
import shutil
import stat
import string
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
NGINX_DIR = REPO / "nginx"
TEMPLATE = NGINX_DIR / "templates" / "default.conf.template"
INCLUDES = ("security-headers.conf", "proxy-api.conf", "error-json.conf")
MIB = 1024 * 1024
# Copied when serving frontend/ in place is impossible (nginx workers run as
# `nobody` and cannot enter a 0700 folder): everything the page needs.
FRONTEND_COPY_IGNORE = shutil.ignore_patterns("node_modules", "package*.json", ".*")
# nginx's limits per client address (template placeholders; nginx/Dockerfile has the same).
NGINX_LIMITS = {
    "RATE_UPLOADS": "10r/m",
    "BURST_UPLOADS": "10",
    "RATE_BUNDLE_FILES": "300r/m",
    "BURST_BUNDLE_FILES": "1000",
    "RATE_TOKENS": "60r/m",
    "BURST_TOKENS": "30",
    "CONN_PER_IP": "20",
    "TRANSFERS_PER_IP": "4",
}
# For load tests and e2e journeys, where every client is 127.0.0.1: limits
# no single machine reaches (65535 is nginx's largest limit_conn).
NO_NGINX_LIMITS = {
    "RATE_UPLOADS": "100000r/s",
    "BURST_UPLOADS": "100000",
    "RATE_BUNDLE_FILES": "100000r/s",
    "BURST_BUNDLE_FILES": "100000",
    "RATE_TOKENS": "100000r/s",
    "BURST_TOKENS": "100000",
    "CONN_PER_IP": "65535",
    "TRANSFERS_PER_IP": "65535",
}

MAIN_CONF = """\
# Written by scripts/stack.py for a local run; not used in docker.
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
{user}
events {{
    worker_connections 512;
}}

http {{
    {mime}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    client_body_temp_path {prefix}/temp/client_body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;

    include default.conf;
}}
"""

# Used when /etc/nginx/mime.types is missing: just what the site serves.
MIME_FALLBACK = """types {
        text/html html;
        text/css css;
        application/javascript js mjs;
        image/svg+xml svg;
        image/png png;
        image/x-icon ico;
        application/json json;
        text/plain txt;
    }"""


def nginx_binary() -> str | None:
    """nginx on PATH, or Debian's /usr/sbin/nginx (a normal user's PATH has no /usr/sbin)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    return str(found) if found else None


def client_max_body_size(max_upload_bytes: int) -> str:
    """MAX_UPLOAD_BYTES rounded up to MiB, plus 1 MiB for multipart overhead."""
    return f"{-(-max_upload_bytes // MIB) + 1}m"


def render_site(listen: str, frontend_root: Path, backend_addr: str, body_size: str,
                limits: dict[str, str] | None = None) -> str:
    """The site (server block and its zones) from nginx/templates/default.conf.template."""
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        {**NGINX_LIMITS, **(limits or {})},
        LISTEN_PORT=listen,
        FRONTEND_ROOT=str(frontend_root),
        BACKEND_ADDR=backend_addr,
        CLIENT_MAX_BODY_SIZE=body_size,
    )


def limits_from_environ() -> dict[str, str]:
    """The nginx limits set in the environment (for `run` and `render`)."""
    return {name: os.environ[name] for name in NGINX_LIMITS if os.environ.get(name)}


def _readable_by_others(path: Path) -> bool:
    """True when `nobody` can reach `path` (every parent o+x) and read it."""
    for part in [path, *path.parents]:
        if not part.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def write_conf(prefix: Path, workdir: Path, site: str) -> Path:
    """Lay out the nginx prefix around ``site`` (a rendered server block) and return the main nginx.conf path."""
    conf_dir = prefix / "conf"
    for sub in ("conf/anon-hosting", "logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    # nginx started as root runs its workers as `nobody`: they must be
    # able to walk into the prefix. Readable, never writable by others.
    for folder in (workdir, prefix, conf_dir, conf_dir / "anon-hosting"):
        folder.chmod(0o755)
    for name in INCLUDES:
        shutil.copyfile(NGINX_DIR / name, conf_dir / "anon-hosting" / name)
    (conf_dir / "default.conf").write_text(site, encoding="utf-8")
    mime = Path("/etc/nginx/mime.types")
    main = MAIN_CONF.format(
        prefix=prefix,
        user=user_directive(),
        mime=f"include {mime};" if mime.is_file() else MIME_FALLBACK,
    )
    (conf_dir / "nginx.conf").write_text(main, encoding="utf-8")
    return conf_dir / "nginx.conf"


def frontend_root() -> tuple[Path, Path | None]:
    """frontend/ itself, or a world-readable copy when workers can't read it; and the copy's folder to remove."""
    if os.geteuid() != 0 or _readable_by_others(FRONTEND):
        return FRONTEND, None
    # Not inside workdir: that may sit under a 0700 folder (pytest's tmp_path).
    copy = Path(tempfile.mkdtemp(prefix="anon-hosting-html-")) / "html"
    shutil.copytree(FRONTEND, copy, ignore=FRONTEND_COPY_IGNORE)
    copy.parent.chmod(0o755)
    for root, _dirs, files in os.walk(copy):
        os.chmod(root, 0o755)  # noqa: S103 - nginx's workers (nobody) must read the public static files
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    return copy, copy.parent


def user_directive() -> str:
    """The `user` line nginx needs when started as root (its workers then run as `nobody`)."""
    if os.geteuid() != 0:
        return ""
    import grp
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
        return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
    except KeyError:  # no `nobody` here: workers stay root (local runs only)
        return "user root;"
