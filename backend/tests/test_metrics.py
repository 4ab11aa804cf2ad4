"""anon_hosting/metrics.py: counts batched by ``Tally`` come out as prometheus_client's own would, and render."""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from anon_hosting import metrics
from anon_hosting.storage.local import LocalStorage

BUCKETS = (0.01, 0.1, 1)


def families():
    registry = CollectorRegistry()
    counter = Counter("c", "a counter", ["route"], registry=registry)
    histogram = Histogram("h", "a histogram", ["route"], buckets=BUCKETS, registry=registry)
    return registry, counter, histogram


def test_batched_counts_are_what_direct_ones_would_be():
    """Fails when prometheus_client changes the internals Tally writes to (see its docstring)."""
    direct, counter, histogram = families()
    batched, counter_b, histogram_b = families()
    tally = metrics.Tally()
    for route, seconds in [("/a", 0.005), ("/a", 0.01), ("/a", 0.5), ("/b", 3.0), ("/a", 0.05)]:
        counter.labels(route).inc(2)
        histogram.labels(route).observe(seconds)
        tally.count(counter_b.labels(route), 2)
        tally.observe(histogram_b.labels(route), seconds)
    tally.flush()
    assert _samples(batched) == _samples(direct)


def _samples(registry) -> str:
    return "\n".join(line for line in generate_latest(registry).decode().splitlines() if "_created" not in line)


def test_nothing_is_written_before_a_flush_and_a_flush_empties_the_batch():
    _, counter, _ = families()
    tally = metrics.Tally()
    tally.count(counter.labels("/a"), 3)
    assert counter.labels("/a")._value.get() == 0
    tally.flush()
    tally.flush()
    assert counter.labels("/a")._value.get() == 3


def test_render_reads_the_storage_figures_at_scrape_time(tmp_path):
    storage = LocalStorage(tmp_path / "files")
    storage.put("a" * 43, [b"x" * 100], {"v": 1, "exp": 2_000_000_000})
    text = metrics.render(storage).decode()
    assert "anon_hosting_files_stored 1.0" in text and "anon_hosting_bytes_stored 100.0" in text
    assert "anon_hosting_storage_free_bytes " in text
