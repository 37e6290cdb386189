"""`report.html`: one self-contained page (inline CSS, charts as server-drawn SVG, no script,
nothing fetched), with a second run beside it when comparing."""

from __future__ import annotations

from html import escape
from typing import Any

from deskpilot.core.charts import Plot
from deskpilot.knowledge.distribution import HISTOGRAM_BINS

COLOURS = ("#2563eb", "#ea580c")  # this run, the compared run
PLOT = Plot(width=520, height=240, left=52, right=10, top=10, bottom=40)

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#111;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.3rem .6rem;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#f5f5f5}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}.chart{border:1px solid #eee}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}
.muted{color:#666;font-size:.85rem}
"""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _frame(x_title: str, y_title: str) -> str:
    """The percentage grid and both axes' titles."""
    return PLOT.percent_grid() + PLOT.axis_titles(x_title, y_title)


def curve_chart(runs: list[dict[str, Any]]) -> str:
    """Deflection (solid) and estimated wrong answers (dashed) over thresholds."""
    body = _frame("confidence threshold", "share of tickets / of answers")
    for colour, report in zip(COLOURS, runs, strict=False):
        curve = report["summary"]["curve"]
        top = max((p["threshold"] for p in curve), default=1) or 1
        for key, dash in (("deflection", ""), ("wrong_answer_rate", ' stroke-dasharray="5 4"')):
            points = [(PLOT.x(p["threshold"] / top), PLOT.y(p[key]))
                      for p in curve if p[key] is not None]
            if points:
                path = " ".join(f"{'M' if i == 0 else 'L'}{x},{y}"
                                for i, (x, y) in enumerate(points))
                body += (f'<path class="series {key}" d="{path}" fill="none" '
                         f'stroke="{colour}" stroke-width="2"{dash}/>')
        x = PLOT.x(report["summary"]["deflection"]["threshold"] / top)
        body += (f'<line class="threshold" x1="{x}" x2="{x}" y1="{PLOT.y(1)}" '
                 f'y2="{PLOT.y(0)}" stroke="{colour}" stroke-opacity=".4"/>')
    return PLOT.svg("Deflection and estimated wrong answers by threshold", body,
                    name="deflection-curve", sized=True)


def bar_chart(name: str, title: str, labels: list[str], series: list[list[float]],
              x_title: str) -> str:
    """Grouped bars, one group per label, values in [0, 1]."""
    body = _frame(x_title, "share")
    group = 1 / max(len(labels), 1)  # of the plot area's width
    bar = group * 0.8 / max(len(series), 1)
    for s, (colour, values) in enumerate(zip(COLOURS, series, strict=False)):
        for i, value in enumerate(values):
            body += (f'<rect class="bar" {PLOT.bar(i * group + group * 0.1 + s * bar, bar, value)}'
                     f' fill="{colour}"/>')
    body += "".join(PLOT.x_label(PLOT.x((i + 0.5) * group), label)
                    for i, label in enumerate(labels))
    return PLOT.svg(title, body, name=name, sized=True)


def _outcomes(report: dict[str, Any]) -> list[float]:
    summary = report["summary"]
    n = summary["tickets"] or 1
    return [summary[k] / n for k in ("answered", "handed_over", "unanswered")]


def _histogram(report: dict[str, Any]) -> list[float]:
    counts = report["summary"]["similarity"]["histogram"]
    total = sum(counts) or 1
    return [c / total for c in counts]


def _figures(report: dict[str, Any]) -> list[tuple[str, str]]:
    s = report["summary"]
    cost = s["cost"]
    rows = [
        ("Tickets replayed", str(s["tickets"])),
        (f"Deflection at threshold {s['deflection']['threshold']}",
         _pct(s["deflection"]["rate"])),
        ("Estimated wrong answers among them", _pct(s["deflection"]["wrong_answer_rate"])),
        ("Answered / handed over / unanswered",
         f"{s['answered']} / {s['handed_over']} / {s['unanswered']}"),
        ("Triage accuracy", f"{_pct(s['triage']['accuracy'])} of {s['triage']['labelled']} "
                            f"labelled ({s['triage']['abstained']} abstained)"),
        ("Similarity to the human reply (median, p10–p90)",
         "–" if s["similarity"]["median"] is None else
         f"{s['similarity']['median']:.2f} ({s['similarity']['p10']:.2f}–"
         f"{s['similarity']['p90']:.2f})"),
        ("Handoffs", ", ".join(f"{k}: {v}" for k, v in s["handoffs"].items()) or "none"),
    ]
    if cost:
        per = cost["per_1000_conversations"]
        rows.append(("Estimated cost per 1,000 conversations",
                     f"{per:.2f} {cost['currency']}" if per is not None
                     else "no price for this model in [agent.prices]"))
        rows.append(("Tokens (input / output)",
                     f"{cost['input_tokens']} / {cost['output_tokens']}"))
    settings = report["settings"]
    rows.append(("Model", f"{settings['provider']}"
                          + (f" ({settings['model']})" if settings.get("model") else "")))
    rows.append(("Tickets from", str(settings["source"])))
    return rows


def _worst(report: dict[str, Any]) -> str:
    by_id = {r["ticket_id"]: r for r in report["rows"]}
    lines = []
    for ticket_id in report["summary"]["worst"]:
        r = by_id[ticket_id]
        lines.append(f"<tr><td>{escape(ticket_id)}</td><td>{escape(r['question'])}</td>"
                     f"<td>{escape(r['answer'])}</td><td>{escape(r['human_reply'] or '')}</td>"
                     f"<td>{r['similarity']:.2f}</td></tr>")
    if not lines:
        return "<p class='muted'>No answered ticket to compare.</p>"
    return ("<table><tr><th>Ticket</th><th>Customer</th><th>Agent's answer</th>"
            "<th>Human reply</th><th>Similarity</th></tr>" + "".join(lines) + "</table>")


def render(report: dict[str, Any], compared: dict[str, Any] | None = None,
           compared_name: str = "") -> str:
    runs = [report, *([compared] if compared else [])]
    names = ["this run", f"compared: {compared_name}" if compared else ""]
    legend = "".join(f'<span style="background:{c}"></span>{escape(n)}'
                     for c, n in zip(COLOURS, names[:len(runs)], strict=False))
    figures = [_figures(r) for r in runs]
    header = "".join(f"<th>{escape(n)}</th>" for n in names[:len(runs)])
    table = "".join(
        f"<tr><th>{escape(label)}</th>"
        + "".join(f"<td>{escape(f[i][1]) if i < len(f) else ''}</td>" for f in figures)
        + "</tr>" for i, (label, _) in enumerate(figures[0]))
    charts = "".join([
        curve_chart(runs),
        bar_chart("outcomes", "Outcomes", ["answered", "handed over", "unanswered"],
                  [_outcomes(r) for r in runs], "outcome"),
        bar_chart("similarity", "Similarity of answers to the human replies",
                  [f"{i / HISTOGRAM_BINS:.1f}" for i in range(HISTOGRAM_BINS)],
                  [_histogram(r) for r in runs],
                  "cosine similarity (answered tickets)"),
    ])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Deskpilot simulation</title>
<style>{CSS}</style></head><body>
<h1>Deskpilot simulation on past tickets</h1>
<p class="muted">{escape(report['created_at'])} · schema {escape(report['schema'])}</p>
<p class="legend">{legend}</p>
<table><tr><th></th>{header}</tr>{table}</table>
<h2>Charts</h2>
<p class="muted">Deflection (solid) is the share of tickets the agent would have answered with
a source at or above each confidence threshold; estimated wrong answers (dashed) are the share
of those answers less similar to the human's reply than {report['settings']['wrong_below']}.
The vertical line is the threshold the forecast is read at.</p>
<div class="charts">{charts}</div>
<h2>Worst cases</h2>
<p class="muted">Answered tickets whose answer was least like what the team replied.</p>
{_worst(report)}
</body></html>
"""
