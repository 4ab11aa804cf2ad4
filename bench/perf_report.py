"""The output of bench/perf.py: the table, the generated block of docs/performance.md, the chart.

Contract: ``table(results)`` is the plain-text table printed on stdout;
``write_docs(results, md, png)`` replaces the text between the BEGIN/END markers
of ``md`` (keeping the hand-written analysis around it; the file is created if
missing) and draws ``png``. ``results`` is what ``perf.measure`` returns.
"""

from __future__ import annotations

from pathlib import Path

MIB = 1 << 20
BEGIN, END = "<!-- bench:begin (written by bench/perf.py) -->", "<!-- bench:end -->"
DOWNLOAD_TARGET, UPLOAD_TARGET = 0.6, 0.7
RSS_TARGET, RSS_FLAT = 64 * MIB, 16 * MIB
SMALL_TARGET, P99_TARGET = 400, 0.100
TARGET_CLIENTS = 8  # the small-file target's load; other loads are measured, not judged (docs/performance.md)


def size_label(size: int) -> str:
    return f"{size // 1024**3} GiB" if size >= 1024**3 else f"{size // MIB} MiB"


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rows(results: dict) -> list[list[str]]:
    out = []
    for size in results["sizes"]:
        t = {k: v / MIB for k, v in results["throughput"][size].items()}
        peak, growth = _peak(results, size), _growth(results, size)
        down, up = t["download"] / t["static"], t["upload"] / t["dd"]
        big = size >= 64 * MIB
        out.append([
            size_label(size), f"{t['upload']:.0f}", f"{t['dd']:.0f}",
            f"{up:.2f}" + (f" ({_mark(up >= UPLOAD_TARGET)})" if big else ""),
            f"{t['download']:.0f}", f"{t['static']:.0f}",
            f"{down:.2f}" + (f" ({_mark(down >= DOWNLOAD_TARGET)})" if big else ""),
            f"{t['aes_seal']:.0f} / {t['aes_open']:.0f}",
            _cpu(results["throughput"][size], size),
            f"{peak / MIB:.1f} ({growth / MIB:+.1f})",
        ])
    return out


def _cpu(figures: dict, size: int) -> str:
    if size < 16 * MIB:
        return "–"  # process CPU time moves in 10 ms ticks: meaningless for a few MiB
    return f"{figures['cpu_ms_per_mib_up']:.2f} / {figures['cpu_ms_per_mib_down']:.2f}"


def _workers(results: dict) -> str:
    w = results["workers"]
    return f"gunicorn {w['worker_class']}, {w['workers']} workers × {w['threads']} threads"


HEADERS = ["size", "upload", "dd fsync", "up/dd", "download", "nginx static", "down/static",
           "AES-GCM seal/open", "worker CPU ms/MiB up/down", "peak worker RSS MiB (vs 1 MiB)"]
SMALL_HEADERS = ["clients", "round trips/s", "p50 ms", "p99 ms", "CPU ms per round trip: gunicorn / nginx / client",
                 "bare Flask round trips/s (p99 ms, gunicorn CPU ms)",
                 "required-work floor round trips/s (p99 ms, gunicorn CPU ms)", "ours / bare, ours / required",
                 "one file creation, µs of CPU"]


def small_rows(results: dict) -> list[list[str]]:
    out = []
    for clients, s in results["small"].items():
        verdict = f" ({_small_verdict(s)})" if int(clients) == TARGET_CLIENTS else ""
        cpu = " / ".join(f"{s.get('cpu_ms_' + k, 0):.2f}" for k in ("gunicorn", "nginx", "client"))
        out.append([str(clients), f"{s['rate']:.0f}{verdict}", f"{s['p50'] * 1000:.1f}", f"{s['p99'] * 1000:.1f}", cpu,
                    *(f"{s[f + '_rate']:.0f} ({s[f + '_p99'] * 1000:.1f}, {s[f + '_cpu_ms_gunicorn']:.2f})"
                      for f in ("bare", "required")),
                    f"{s['rate'] / s['bare_rate']:.2f}, {s['rate'] / s['required_rate']:.2f}",
                    f"{s.get('file_creation_us', 0):.0f}"])
    return out


def _small_verdict(s: dict) -> str:
    """met or MISSED; a miss says when the required-work floor, in the same run, misses too."""
    meets = lambda prefix: s[prefix + "rate"] >= SMALL_TARGET and s[prefix + "p99"] < P99_TARGET  # noqa: E731
    if meets(""):
        return "met"
    return "MISSED" if meets("required_") else "MISSED, as the required-work floor"


def _plain(headers: list[str], body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, body)])


def _markdown(headers: list[str], body: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
                      *("| " + " | ".join(r) + " |" for r in body)])


def _peak(results: dict, size) -> int:
    """The highest worker RSS seen while files of ``size`` moved, over all runs."""
    return max(run.get(size, 0) for run in results["rss"]["runs"])


def _growth(results: dict, size) -> int:
    """The most a run's peak at ``size`` was above the same run's peak at the smallest size."""
    smallest = results["sizes"][0]
    return max(run.get(size, 0) - run.get(smallest, 0) for run in results["rss"]["runs"])


def _verdicts(results: dict) -> list[str]:
    largest = results["sizes"][-1]
    peak, growth = _peak(results, largest), _growth(results, largest)
    return [f"Peak worker RSS at {size_label(largest)}: {peak / MIB:.1f} MiB ({_mark(peak <= RSS_TARGET)} ≤ 64 MiB); "
            f"at most {growth / MIB:+.1f} MiB over the same run's 1 MiB transfer "
            f"({_mark(growth <= RSS_FLAT)} ≤ 16 MiB); "
            f"idle worker {results['rss']['idle'] / MIB:.1f} MiB."]


def table(results: dict) -> str:
    m = results["machine"]
    return "\n".join([
        f"Throughput in MiB/s, median of {m['runs']} runs ({m['cores']} cores, load after {m['load_after']:.1f}; "
        f"{_workers(results)})",
        _plain(HEADERS, rows(results)), "", *_verdicts(results), "",
        "Small files (4 KiB upload + retrieve per round trip)", _plain(SMALL_HEADERS, small_rows(results)),
    ])


def _block(results: dict, png: Path) -> str:
    m = results["machine"]
    return "\n".join([
        BEGIN,
        f"Measured {m['date']}, {m['cores']} cores, median of {m['runs']} runs, load average after the run "
        f"{m['load_after']:.1f}, {_workers(results)}. Throughput in MiB/s.",
        "", _markdown(HEADERS, rows(results)), "", *(f"- {v}" for v in _verdicts(results)), "",
        "Small files: one round trip is a 4 KiB upload plus its retrieve.", "",
        _markdown(SMALL_HEADERS, small_rows(results)), "",
        f"![throughput against file size]({png.name})",
        END,
    ])


def write_docs(results: dict, md: Path, png: Path) -> None:
    block = _block(results, png)
    text = md.read_text(encoding="utf-8") if md.exists() else "# Performance\n\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        text = head + block + rest.partition(END)[2]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    md.write_text(text, encoding="utf-8")
    chart(results, png)


def chart(results: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = results["sizes"]
    series = lambda key: [results["throughput"][s][key] / MIB for s in sizes]  # noqa: E731
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(sizes, series("upload"), "o-", color="tab:blue", label="upload (through nginx)")
    ax.plot(sizes, series("download"), "o-", color="tab:orange", label="download (through nginx)")
    ax.plot(sizes, series("dd"), "s--", color="tab:blue", alpha=0.6, label="limit: dd conv=fsync")
    ax.plot(sizes, series("static"), "s--", color="tab:orange", alpha=0.6, label="limit: nginx static sendfile")
    ax.plot(sizes, series("aes_seal"), ":", color="tab:green", label="limit: AES-256-GCM seal (1 process)")
    ax.plot(sizes, series("aes_open"), ":", color="tab:red", label="limit: AES-256-GCM open (1 process)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sizes, [size_label(s) for s in sizes])
    ax.set_xlabel("file size")
    ax.set_ylabel("MiB/s (log)")
    ax.set_title(f"Anon Hosting throughput vs the machine's limits ({results['machine']['cores']} cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
