"""Figures, their statistics, the interleaved runs that measure them and the printed table."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, TypeVar

T = TypeVar("T")


@dataclass
class Figure:
    """One row of the table: subject runs, baseline runs (same unit), and the target."""

    key: str
    title: str
    unit: str
    subject: List[float]
    baseline: List[float] = field(default_factory=list)
    baseline_title: str = "-"
    ratio_max: Optional[float] = None
    value_max: Optional[float] = None
    note: str = ""
    allowance: List[float] = field(default_factory=list)
    """Runs of a cost the subject is allowed on top of the baseline's multiple (the hashing a
    command does): the ratio is (median subject - median allowance) / median baseline."""

    @property
    def ratio(self) -> Optional[float]:
        if not self.baseline or not self.subject:
            return None
        base = statistics.median(self.baseline)
        extra = statistics.median(self.allowance) if self.allowance else 0.0
        return (statistics.median(self.subject) - extra) / base if base else None

    @property
    def target(self) -> str:
        parts = []
        if self.value_max is not None:
            parts.append(f"<= {fmt(self.value_max)} {self.unit}")
        if self.ratio_max is not None:
            parts.append(f"ratio <= {self.ratio_max}" + (" after the allowance" if self.allowance else ""))
        return ", ".join(parts) or "report"

    @property
    def met(self) -> Optional[bool]:
        if self.value_max is None and self.ratio_max is None:
            return None
        ok = True
        if self.value_max is not None:
            ok = ok and statistics.median(self.subject) <= self.value_max
        if self.ratio_max is not None:
            ratio = self.ratio
            ok = ok and ratio is not None and ratio <= self.ratio_max
        return ok

    def as_json(self) -> Dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "subject": summary(self.subject),
            "baseline": summary(self.baseline) if self.baseline else None,
            "baseline_title": self.baseline_title,
            "ratio": self.ratio,
            "allowance": summary(self.allowance) if self.allowance else None,
            "target": {"text": self.target, "ratio_max": self.ratio_max, "value_max": self.value_max},
            "met": self.met,
            "note": self.note,
        }


def summary(values: List[float]) -> Dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values), "values": values}


def fmt(x: float) -> str:
    """Three significant digits, never in scientific notation."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def cell(values: List[float], unit: str) -> str:
    if not values:
        return "-"
    text = f"{fmt(statistics.median(values))} {unit}"
    if len(values) > 1:
        text += f" ({fmt(min(values))}..{fmt(max(values))})"
    return text


def interleave(runs: int, *measures: Callable[[int], T], warmup: int = 0) -> List[List[T]]:
    """Run the `measures` (subject first, then its baselines) in turn, reversing the order every
    other round (ABBA, ABCCBA...), so that drift and order effects cancel; `warmup` untimed rounds
    first. Each callable gets the run index (negative in warm-up) and returns one measurement;
    the result holds one list per callable."""
    for i in range(warmup):
        for measure in measures:
            measure(-1 - i)
    results: List[List[T]] = [[] for _ in measures]
    for i in range(runs):
        order = list(zip(results, measures))
        if i % 2:
            order.reverse()
        for out, measure in order:
            out.append(measure(i))
    return results


def ratio_text(f: Figure) -> str:
    """The ratio to 3 decimals, or to as many more as it takes for the printed value to fall on the
    same side of the target as the measured one (1.0204 is "1.0204", not "1.020", against 1.02)."""
    if f.ratio is None:
        return "-"
    for decimals in range(3, 7):
        text = f"{f.ratio:.{decimals}f}"
        if f.ratio_max is None or (float(text) <= f.ratio_max) == (f.ratio <= f.ratio_max):
            return text
    return text


def table(figures: List[Figure]) -> str:
    header = ("figure", "subject", "baseline", "ratio", "target", "met?")
    rows = [header]
    for f in figures:
        met = {True: "yes", False: "NO", None: "(report)"}[f.met]
        base = cell(f.baseline, f.unit)
        if f.allowance:
            base += f"; allowance {fmt(statistics.median(f.allowance))} {f.unit}"
        rows.append((f.title, cell(f.subject, f.unit), base, ratio_text(f), f.target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
