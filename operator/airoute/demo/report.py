"""The demo's outputs: a PNG timeline (weights with the canary's share apart, error rates, clients,
each phase shaded and named) and a markdown report with every decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airoute.demo.load import Tally
from airoute.demo.scenario import Findings, drill_result

BACKENDS = ("azure-eu", "bedrock-eu", "vertex-eu", "local-llama")
COLOURS = {"azure-eu": "#0078d4", "bedrock-eu": "#ff9900", "vertex-eu": "#34a853", "local-llama": "#8e44ad"}
CANARY_COLOUR = "#c2185b"


def weight_bands(findings: Findings) -> list[tuple[str, str, list[float]]]:
    """(label, colour, share per sample) from bottom to top; a backend's canary is its own band.

    A backend's weight is split into its stable part and, while a canary runs, the canary's part
    (``canary_weights`` is the canary's percent of that backend's traffic).
    """
    bands: list[tuple[str, str, list[float]]] = []
    for b in BACKENDS:
        weights = [float(s.weights.get(b, 0)) for s in findings.samples]
        canary = [w * s.canary.get(b, 0) / 100 for w, s in zip(weights, findings.samples, strict=True)]
        bands.append((b, COLOURS[b], [w - c for w, c in zip(weights, canary, strict=True)]))
        if any(canary):
            bands.append((f"{b} canary", CANARY_COLOUR, canary))
    return bands


def _phases(findings: Findings, axes: list[Any]) -> None:
    t0 = findings.started
    ends = [m.at for m in findings.marks[1:]] + [findings.ended or findings.samples[-1].at]
    for n, (mark, end) in enumerate(zip(findings.marks, ends, strict=True), 1):
        for ax in axes:
            ax.axvspan(mark.at - t0, end - t0, color="grey", alpha=0.10 if n % 2 else 0.0, linewidth=0)
            ax.axvline(mark.at - t0, color="grey", linestyle="--", linewidth=0.8)
        axes[0].annotate(
            f"{n} {mark.phase.short}",
            ((mark.at + end) / 2 - t0, 101),
            fontsize=8,
            va="bottom",
            ha="center",
            color="dimgrey",
            annotation_clip=False,
        )


def _label_canaries(ax: Any, xs: list[float], bands: list[tuple[str, str, list[float]]]) -> None:
    """Names each canary band where it is widest, with its share of all traffic."""
    below = [0.0] * len(xs)
    for label, colour, values in bands:
        if label.endswith(" canary") and any(values):
            i = max(range(len(values)), key=values.__getitem__)
            ax.annotate(
                f"{label}: {values[i]:g}% of all traffic",
                (xs[i], below[i] + values[i]),
                xytext=(0, 14),
                textcoords="offset points",
                fontsize=8,
                color=colour,
                ha="center",
                arrowprops={"arrowstyle": "-", "color": colour},
            )
        below = [b + v for b, v in zip(below, values, strict=True)]


def write_png(findings: Findings, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = findings.started
    xs = [s.at - t0 for s in findings.samples]
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(12, 8), sharex=True, height_ratios=[3, 2, 1.2])
    bands = weight_bands(findings)
    top.stackplot(xs, *(b[2] for b in bands), labels=[b[0] for b in bands], colors=[b[1] for b in bands], alpha=0.85)
    top.set_ylabel("effective weight (%)")
    top.set_ylim(0, 100)
    top.legend(loc="lower left", ncol=len(bands), fontsize=8, framealpha=0.9)
    top.set_title("airoute demo: support-chat through an outage, a bad canary and a drill", pad=18)
    for b in BACKENDS[:3]:
        middle.plot(xs, [s.error_rates.get(b, 0.0) for s in findings.samples], label=b, color=COLOURS[b])
    middle.set_ylabel("backend error rate")
    middle.set_ylim(0, 1.05)
    bottom.plot(xs, [s.rps for s in findings.samples], label="client requests/s", color="black")
    bottom.plot(xs, [s.failed_ps for s in findings.samples], label="client errors/s", color="red")
    bottom.set_ylabel("clients")
    bottom.set_xlabel("seconds since start")
    bottom.legend(loc="upper left", fontsize=8)
    _label_canaries(top, xs, bands)
    if findings.samples and findings.marks:
        _phases(findings, [top, middle, bottom])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def markdown(findings: Findings, tally: Tally, png: Path | None) -> str:
    drill = findings.drill
    lines = [
        "# airoute demo report",
        "",
        "| what | measured |",
        "| --- | --- |",
        f"| client requests | {tally.total} ({tally.ok} answered, {tally.failed} failed, {tally.degraded} degraded) |",
        f"| time to failover (Azure down → its weight at 0) | {_seconds(findings.failover_seconds)} |",
        f"| client errors during the Azure outage | {findings.outage_client_errors} |",
        f"| time to recover (Azure back → full weight) | {_seconds(findings.recovery_seconds)} |",
        f"| Azure quota spent: 429s it answered / client errors | {findings.quota_throttled} / "
        f"{findings.quota_client_errors} |",
        f"| time to roll back the bad canary | {_seconds(findings.rollback_seconds)} |",
        f"| canary share after the rollback | {findings.canary_weight_after}% |",
    ]
    if drill is not None:
        lines += [
            f"| drill: traffic shifted away from vertex-eu after | {_seconds(drill.weight_shifted_after)} |",
            f"| drill: full weight back after the drill ended | {_seconds(drill.recovered_after)} |",
            f"| drill: client-visible errors | {'—' if drill.client_errors is None else f'{drill.client_errors:g}'} |",
            f"| drill result | {drill_result(drill)} |",
        ]
    lines += ["", "## Why the canary was rolled back", "", findings.rollback_message or "—", "", "## Phases", ""]
    t0 = findings.started
    for mark in findings.marks:
        outcome = findings.outcomes.get(mark.phase.key, "not finished")
        lines.append(f"- {mark.at - t0:6.1f} s — {mark.phase.title}: {outcome}")
    lines += ["", "## Decisions (controller events)", ""]
    lines += [f"- {at - t0:6.1f} s — **{reason}**: {message}" for at, reason, message in findings.events]
    if tally.failures:
        lines += ["", "## Client failures seen", "", *(f"- {f}" for f in tally.failures)]
    if png is not None:
        lines += ["", f"![timeline]({png.name})"]
    return "\n".join(lines) + "\n"
