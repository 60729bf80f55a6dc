"""The committed models side by side, from their cards (what README's model table quotes).

The figures are the ones training measured and wrote into each card; the test suite
re-evaluates every committed model and checks it still matches its card. One column
is measured here, as no card holds it: optdigits' real writers never looked at, at
their 8 x 8 grid (`benchmarks/_optdigits.py`).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import print_table
from benchmarks._estimate import CoarseSet, reading
from benchmarks._optdigits import never_looked_at
from model.card import StyleProxyReport, read_card
from model.predictor import Predictor
from settings import get_settings


def _proxy_cell(report: StyleProxyReport | None) -> str:
    if report is None:
        return "not measured"
    worst, unsure = report.worst_person_accuracy, report.unsure_share
    return f"{report.accuracy:.2%} (worst {worst:.0%}), {unsure:.1%} unsure"


def main() -> None:
    settings = get_settings()
    writers = CoarseSet(*never_looked_at())
    rows = []
    for card_file in sorted(settings.models_dir.glob("*.json")):
        card = read_card(card_file)
        size_mb = (card_file.with_suffix(".pt").stat().st_size) / 1e6
        calibration = card.calibration
        proxy = card.style_proxy  # cards written before the handwriting proxy lack it
        styles = card.style_proxy_held_out_styles
        real = reading(Predictor.load(card_file.with_suffix(".pt")), writers)
        rows.append(
            [
                card.name + (" (default)" if card.name == settings.default_model else ""),
                f"{card.parameters:,}",
                f"{size_mb:.2f} MB",
                card.epochs,
                f"{card.training_seconds / 60:.1f} min on {card.device}",
                f"{card.val_accuracy:.2%}",
                f"{card.test_accuracy:.2%}",
                f"{calibration.ece_before:.2%} -> {calibration.ece_after:.2%}",
                f"{card.unsure_report.mnist_test_flagged:.2%}",
                f"{proxy.accuracy:.2%} (worst {proxy.worst_person_accuracy:.0%})"
                if proxy
                else "not measured",
                f"{proxy.unsure_share:.2%}" if proxy else "not measured",
                _proxy_cell(styles),
                f"{real.accuracy:.2%}, {real.unsure:.1%} unsure",
            ]
        )
    print_table(
        [
            "model",
            "parameters",
            "weights",
            "epochs",
            "training",
            "validation",
            "test",
            "ECE raw -> calibrated",
            "test flagged unsure",
            "held-out people (proxy)",
            "proxy flagged unsure",
            "held-out styles (proxy): accuracy, worst person, unsure",
            f"real writers never looked at (optdigits, 8 x 8, {len(writers.labels):,})",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
