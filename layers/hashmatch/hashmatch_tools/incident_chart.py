"""What `hashmatch incident status` shows: an incident's timeline, its matches per hour per member
as a table, and the same counts as a PNG bar chart (Pillow's ImageDraw, no plotting library)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hashmatch.governance.incidents import Incident

__all__ = ["draw_chart", "hourly_rows", "status_lines"]

# Hours shown one by one between the first and the last with a match; past that, only hours with one.
MAX_CONTINUOUS_HOURS = 168
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def _hours(counts: Mapping[tuple[str, str], int]) -> list[str]:
    present = sorted({hour for hour, _member in counts})
    if not present:
        return []
    try:
        first, last = (datetime.strptime(h, "%Y-%m-%dT%H") for h in (present[0], present[-1]))
    except ValueError:
        return present
    span = int((last - first) / timedelta(hours=1)) + 1
    if span > MAX_CONTINUOUS_HOURS:
        return present
    return [(first + timedelta(hours=n)).strftime("%Y-%m-%dT%H") for n in range(span)]


def hourly_rows(counts: Mapping[tuple[str, str], int]) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """(members, [(hour, matches of each member in that hour)]), hours in order, gaps filled."""
    members = sorted({member for _hour, member in counts})
    return members, [(hour, [counts.get((hour, m), 0) for m in members]) for hour in _hours(counts)]


def status_lines(incident: Incident, counts: Mapping[tuple[str, str], int]) -> list[str]:
    """The incident, its timeline and the hourly table as lines of text."""
    lines = [
        f"incident {incident.incident_id}: {incident.title}",
        f"status {incident.status}; labels {', '.join(incident.labels) or '-'}; "
        f"opened by {incident.opened_by} at {incident.opened_at}",
        "",
        "timeline",
    ]
    for step in incident.timeline:
        lines.append(f"  {step.at}  {step.action:<9}  {step.by}" + (f"  ({step.note})" if step.note else ""))
    members, rows = hourly_rows(counts)
    lines += ["", "matches per hour (UTC) per member"]
    if not rows:
        return [*lines, "  none yet"]
    widths = [max(len(m), 5) for m in members]
    header = "  ".join(m.rjust(w) for m, w in zip(members, widths, strict=True))
    lines.append(f"  {'hour':<16}  {header}  total")
    for hour, values in rows:
        cells = "  ".join(str(v).rjust(w) for v, w in zip(values, widths, strict=True))
        lines.append(f"  {hour}:00  {cells}  {sum(values):>5}")
    totals = [sum(values[i] for _h, values in rows) for i in range(len(members))]
    cells = "  ".join(str(v).rjust(w) for v, w in zip(totals, widths, strict=True))
    lines.append(f"  {'total':<16}  {cells}  {sum(totals):>5}")
    return lines


def draw_chart(incident: Incident, counts: Mapping[tuple[str, str], int], path: Path | str) -> Path:
    """Write a bar chart of matches per hour (x) per member (one colour each) to `path` as PNG;
    returns the path. An incident without matches gets a chart saying so."""
    members, rows = hourly_rows(counts)
    font = ImageFont.load_default()
    left, top, bottom, right = 60, 40, 70, 160
    group = max(56, 6 * max(1, len(members)) + 8)  # room for an hour label under each group
    width = left + right + max(1, len(rows)) * group
    height = 360
    image = Image.new("RGB", (max(width, 480), height), "white")
    draw = ImageDraw.Draw(image)
    draw.text(
        (left, 12), f"{incident.incident_id} ({incident.status}): matches per hour per member", fill="black", font=font
    )
    plot_bottom = height - bottom
    plot_height = plot_bottom - top
    draw.line([(left, top), (left, plot_bottom), (left + max(1, len(rows)) * group, plot_bottom)], fill="black")
    peak = max((v for _h, values in rows for v in values), default=0)
    draw.text((8, top - 6), str(peak), fill="black", font=font)
    draw.text((8, plot_bottom - 6), "0", fill="black", font=font)
    if not rows:
        draw.text((left + 10, top + plot_height // 2), "no matches yet", fill="black", font=font)
    bar = max(2, (group - 6) // max(1, len(members)))
    label_every = max(1, len(rows) // 24)
    for number, (hour, values) in enumerate(rows):
        x = left + number * group + 3
        for index, value in enumerate(values):
            if value:
                bar_top = plot_bottom - round(plot_height * value / peak)
                colour = _COLOURS[index % len(_COLOURS)]
                draw.rectangle([x + index * bar, bar_top, x + (index + 1) * bar - 1, plot_bottom - 1], fill=colour)
        if number % label_every == 0:
            draw.text((x, plot_bottom + 6), hour[5:].replace("T", " ") + "h", fill="black", font=font)
    draw.text((left, plot_bottom + 26), "hour (UTC)", fill="black", font=font)
    legend_x = image.width - right + 20
    for index, member in enumerate(members):
        y = top + index * 16
        draw.rectangle([legend_x, y, legend_x + 10, y + 10], fill=_COLOURS[index % len(_COLOURS)])
        draw.text((legend_x + 16, y - 1), member, fill="black", font=font)
    destination = Path(path)
    image.save(destination, format="PNG")
    return destination
