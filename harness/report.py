"""The HA demo's results: a terminal progress bar; the table as Markdown, JSON and a chart."""

import json
import sys
from html import escape

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
    """out/ha.md, out/ha.json, and out/ha.html (the chart); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    md, js, chart = out / "ha.md", out / "ha.json", out / "ha.html"
    md.write_text(markdown(rows))
    js.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
    chart.write_text(html(rows, settings))
    return md, js, chart


CHART = """<!doctype html><meta charset="utf-8"><style>
body {{ font: 14px system-ui, sans-serif; margin: 16px; width: 760px; background: #fff; }}
td, th {{ padding: 3px 8px; text-align: left; white-space: nowrap; }}
.bar {{ width: 300px; background: #eee; }} .bar div {{ height: 14px; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style><h3>Sessions kept behind HAProxy ({caption})</h3><table>
<tr><th>engine</th><th>LB</th><th>fault</th><th>sessions kept</th><th></th>
<th class="num">5xx</th><th class="num">p50 ms</th><th class="num">p99 ms</th></tr>
{rows}</table>"""
ROW = """<tr><td>{engine}</td><td>{lb}</td><td>{fault}</td>
<td class="bar"><div style="width: {kept_pct}%; background: {colour}"></div></td>
<td class="num">{kept_pct}%</td><td class="num">{errors_5xx}</td>
<td class="num">{p50_ms}</td><td class="num">{p99_ms}</td></tr>"""


def html(rows, settings):
    """The table as a bar chart of sessions kept (rendered to PNG by headless Chromium)."""
    body = "\n".join(
        ROW.format(**row, colour="#2a9d5c" if row["kept_pct"] == 100 else "#d1495b") for row in rows
    )
    caption = "{instances} instances, {users} users x {reads} reads".format(**settings)
    return CHART.format(caption=escape(caption), rows=body)


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
