"""The HA demo's results: a terminal progress bar, and the table as Markdown and JSON."""

import json
import sys

COLUMNS = [
    ("engine", "engine"),
    ("lb", "LB mode"),
    ("fault", "fault"),
    ("kept_pct", "sessions kept (%)"),
    ("requests", "requests"),
    ("errors_5xx", "5xx"),
    ("p50_ms", "p50 (ms)"),
    ("p99_ms", "p99 (ms)"),
]


def markdown(rows):
    lines = [
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|"
        + "|".join(" --- " if key in ("engine", "lb", "fault") else " ---: " for key, _ in COLUMNS)
        + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(row[key]) for key, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def write(rows, *, out, settings):
    """out/ha.md and out/ha.json; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "ha.md", out / "ha.json"
    md.write_text(markdown(rows))
    js.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
    return md, js


class Progress:
    """One line per run, redrawn in place on a terminal: ``[2/9] redis rr kill |####----|``."""

    WIDTH = 30

    def __init__(self, total_runs, stream=sys.stderr):
        self.total_runs = total_runs
        self.stream = stream
        self.tty = stream.isatty()
        self.run = 0
        self.label = ""

    def start(self, label):
        self.run += 1
        self.label = f"[{self.run}/{self.total_runs}] {label}"
        self.draw(0, 1)

    def draw(self, done, total):
        if not self.tty:
            return
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label:<40} |{bar}| {done}/{total} reads")
        self.stream.flush()

    def finish(self, summary):
        text = "kept {kept_pct}%, {requests} requests, {errors_5xx} 5xx".format(**summary)
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"{self.label:<40} {text}\n")
        self.stream.flush()
