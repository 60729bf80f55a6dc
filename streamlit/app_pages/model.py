"""Model: what is behind the predictions -- the model card and the pictures of its training.

Layout only: everything shown comes from the card JSON saved next to the weights
(read through the Predictor) and the PNGs the training run left in `results/`.
"""

from __future__ import annotations

import charts
import resources
import streamlit as st

from settings import get_settings

# The pictures a training run draws (model/plots.py), in the order worth reading them.
RESULT_PICTURES = {
    "training_curves.png": "Training curves: loss and accuracy per epoch",
    "confusion_matrix.png": "Confusion matrix on the MNIST test set",
    "test_predictions.png": "Sample test predictions",
}


def _percent(value) -> str:
    return "–" if value is None else f"{float(value):.2%}"


def _or_dash(value) -> str:
    return "–" if value is None else str(value)


def _duration(seconds) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(round(float(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


title, selector = st.columns([3, 1], vertical_alignment="bottom")
title.title("Model")
with selector:
    predictor = resources.choose_model(key="model-page-model")

if predictor is not None:
    card = predictor.card
    st.subheader(f"{card.name} · {card.architecture}")
    if card.description:
        st.write(card.description)

    with st.container(horizontal=True):
        st.metric("Test accuracy", _percent(card.test_accuracy), border=True)
        st.metric("Validation accuracy", _percent(card.val_accuracy), border=True)
        st.metric("Parameters", f"{card.parameters or 0:,}", border=True)
        st.metric(
            "Training time",
            _duration(card.training_seconds),
            help=f"{card.epochs or '?'} epochs on {card.device or '?'}",
            border=True,
        )

    per_digit, calibration = st.columns([3, 2], gap="large")
    with per_digit:
        st.markdown("**Test accuracy per digit**")
        per_digit_accuracy = card.per_digit_test_accuracy or ()
        if len(per_digit_accuracy) == 10:
            st.plotly_chart(
                charts.per_digit_accuracy_figure(range(10), per_digit_accuracy, zoom=True),
                config=charts.PLOTLY_CONFIG,
            )
        else:
            st.caption("This card has no per-digit accuracy.")
    with calibration:
        st.markdown("**Calibration and the unsure threshold**")
        fit, report = card.calibration, card.unsure_report
        lines = [
            f"- temperature **{fit.temperature:.3f}**",
            f"- expected calibration error **{_percent(fit.ece_before)}** before, "
            f"**{_percent(fit.ece_after)}** after",
            f"- *unsure* below a confidence of **{_percent(card.unsure_threshold)}**",
            "- *unsure* too when the drawing is far from every digit the model was trained "
            "on (novelty detector)"
            if card.novelty
            else "",
        ]
        # The unsure report's figures worth a line, in reading order.
        for value, text in (
            (report.mnist_test_flagged, "MNIST test flagged unsure"),
            (report.mnist_test_accuracy_when_sure, "accuracy on the rest"),
            (report.non_digits_flagged, "non-digit drawings flagged"),
        ):
            if value is not None:
                lines.append(f"- {text}: **{_percent(value)}**")
        st.markdown("\n".join(line for line in lines if line))

    # The default model draws into results/, the others into results/<name>/
    # (the `--results-dir` of their training command).
    results_dir = get_settings().results_dir
    if (results_dir / predictor.name).is_dir() or predictor.name != get_settings().default_model:
        results_dir = results_dir / predictor.name
    pictures = [(results_dir / f, caption) for f, caption in RESULT_PICTURES.items()]
    pictures = [(path, caption) for path, caption in pictures if path.is_file()]
    st.subheader("Latest training run")
    st.caption(f"The pictures `run_model.py` last drew into `{results_dir}`.")
    if pictures:
        for row in (pictures[:2], pictures[2:]):
            for column, (path, caption) in zip(st.columns(len(row) or 1), row, strict=False):
                column.image(str(path), caption=caption)
    else:
        st.info(f"No pictures in `{results_dir}` yet: `python run_model.py` draws them.")

    with st.expander("Provenance"):
        st.markdown(
            f"- weights SHA-256 `{predictor.sha256}`\n"
            f"- seed `{_or_dash(card.seed)}`, torch `{_or_dash(card.torch_version)}`, "
            f"commit `{_or_dash(card.git_commit)}`\n"
            f"- command `{_or_dash(card.command)}`"
        )
        if card.data_checksums:
            st.json(card.data_checksums, expanded=False)
