"""A 200 MiB file round-trips through each upload form while every worker's memory stays flat.

The file is written to disk once, streamed up from disk (a file object for the
raw form, a generated multipart body for the other), streamed back down to disk,
and compared by sha256. A background thread samples the RSS of gunicorn's
workers during both transfers.
"""

import time
from dataclasses import dataclass

import pytest

from .transfer import MIB, UPLOADERS, RssSampler, download_to, sha256_file, write_random_file

SIZE = 200 * MIB
RSS_LIMIT = 100 * MIB
NAME = "big file – é 🎉.bin"


@dataclass
class RoundTrip:
    form: str
    sent_sha256: str
    status: int
    answer: dict
    download_status: int | None
    received_sha256: str | None
    received_size: int | None
    peak_rss: int
    rss_samples: int
    upload_seconds: float
    download_seconds: float

    def describe(self) -> str:
        return (f"{self.form}: upload {self.upload_seconds:.1f}s, download {self.download_seconds:.1f}s, "
                f"worker peak RSS {self.peak_rss / MIB:.1f} MiB over {self.rss_samples} samples")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "upload.bin"
    sha256 = write_random_file(path, SIZE)
    yield path, sha256
    path.unlink()


@pytest.fixture(scope="module", params=["raw", "multipart"])
def round_trip(request, server, big_file, tmp_path_factory) -> RoundTrip:
    """Upload then download the big file once per form, sampling worker RSS all along."""
    form, (path, sent_sha256) = request.param, big_file
    dest = tmp_path_factory.mktemp(f"download-{form}") / "download.bin"
    session = server.session()
    download_status = None
    with RssSampler(server) as rss:
        started = time.monotonic()
        upload = UPLOADERS[form](server, path, NAME, session=session)
        uploaded = time.monotonic()
        if upload.status_code == 201:
            download_status = download_to(server, upload.json()["token"], dest, session).status_code
        downloaded = time.monotonic()
    received_sha256, received_size = (sha256_file(dest), dest.stat().st_size) if dest.exists() else (None, None)
    dest.unlink(missing_ok=True)
    result = RoundTrip(form, sent_sha256, upload.status_code, upload.json(), download_status, received_sha256,
                       received_size, rss.peak, rss.samples, uploaded - started, downloaded - uploaded)
    per_worker = {pid: round(peak / MIB, 1) for pid, peak in rss.peak_by_pid.items()}
    print(f"\n[{result.describe()}; peak MiB per worker: {per_worker}]")
    return result


def test_upload_is_accepted_with_name_and_size(round_trip):
    assert round_trip.status == 201, round_trip.answer
    assert round_trip.answer["size"] == SIZE
    assert round_trip.answer["name"] == NAME


def test_download_is_byte_exact(round_trip):
    assert round_trip.download_status == 200
    assert round_trip.received_size == SIZE
    assert round_trip.received_sha256 == round_trip.sent_sha256


def test_worker_peak_rss_stays_under_100_mib(round_trip):
    assert round_trip.rss_samples >= 10, "too few samples to say anything about the peak"
    assert 0 < round_trip.peak_rss < RSS_LIMIT, round_trip.describe()
