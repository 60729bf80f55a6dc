"""Model: what is behind the predictions -- the model card and the pictures of its training.

Layout only: everything shown comes from the card JSON saved next to the weights
(read through the Predictor) and the PNGs the training run left in `results/`.
"""

from __future__ import annotations

import charts
import learning
import resources
import streamlit as st

import run_model
from db import jobs
from model.card import StyleProxyReport
from model.compare import HELD_OUT, MNIST_TEST
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


def _proxy_details(proxy: StyleProxyReport) -> str:
    """Worst person, unsure share, errors caught and the commonest confusions, in a line."""
    confusions = ", ".join(
        f"{true} read as {answer} ({count})" for true, answer, count in proxy.errors_by_pair[:3]
    )
    return (
        f"worst person {_percent(proxy.worst_person_accuracy)}; *unsure* on "
        f"{_percent(proxy.unsure_share)}, catching {_percent(proxy.errors_flagged_unsure)} of "
        f"the errors; commonest errors: {confusions or 'none'}"
    )


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

    st.subheader("Real handwriting (a proxy)")
    st.caption(
        "Digits drawn on this canvas by synthetic people the model never saw "
        "(`model.handwriting`): held-out people write the styles its training people "
        "write; held-out styles people also write forms no training person does, and are "
        "the ones to read as real users. How both compared with real people's drawings: "
        "README, Models."
    )
    proxies = (
        ("Held-out people", card.style_proxy),
        ("Held-out styles", card.style_proxy_held_out_styles),
    )
    with st.container(horizontal=True):
        for label, proxy in proxies:
            if proxy is not None:
                st.metric(
                    label,
                    _percent(proxy.accuracy),
                    help=f"{proxy.n:,} digits by {proxy.people} people",
                    border=True,
                )
    for label, proxy in proxies:
        if proxy is not None:
            st.markdown(f"**{label}**: {_proxy_details(proxy)}")
    if not any(proxy for _, proxy in proxies):
        st.caption(
            "This card has no proxy figures: `python run_model.py evaluate --update-card` "
            "adds them."
        )

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


# --- The learning loop: versions and lineage, the last challenger's evidence, fine-tune


def _versions_table(versions) -> None:
    st.dataframe(
        versions,
        hide_index=True,
        column_order=["name", "base", "champion", "test_accuracy", "created_at", "weights_sha256"],
        column_config={
            "base": st.column_config.TextColumn("fine-tuned from"),
            "champion": st.column_config.CheckboxColumn("serving"),
            "test_accuracy": st.column_config.NumberColumn("MNIST test", format="percent"),
            "created_at": st.column_config.DatetimeColumn("registered", format="YYYY-MM-DD HH:mm"),
            "weights_sha256": "SHA-256",
        },
    )


def _promote(name: str) -> None:
    try:
        st.toast(run_model.promote(name), icon=":material/workspace_premium:")
    except ValueError as error:
        st.toast(str(error), icon=":material/block:")
    resources.forget_champion()


def _evidence(challenger: learning.Challenger) -> None:
    report = challenger.report
    people, mnist = report.sets[HELD_OUT], report.sets[MNIST_TEST]
    names = (report.champion.name, challenger.name)
    st.subheader(f"Last challenger: {names[1]} against {names[0]}")
    verdict = st.success if challenger.promotable else st.warning
    verdict(f"**{'Promote' if challenger.promotable else 'Keep'}**: {challenger.reason}")
    low, high = people.interval
    with st.container(horizontal=True):
        st.metric(f"{names[0]}, held-out people", _percent(people.champion_accuracy))
        st.metric(
            f"{names[1]}, held-out people",
            _percent(people.challenger_accuracy),
            delta=f"{people.difference:+.1%} ({low:+.1%} to {high:+.1%})",
            help=f"{people.n} drawings by people the challenger never saw; "
            f"{people.challenger_only_correct} fixed, {people.champion_only_correct} "
            f"broken, exact McNemar p = {people.p_value:.3g}",
        )
        st.metric(f"{names[0]}, MNIST test", _percent(mnist.champion_accuracy))
        st.metric(f"{names[1]}, MNIST test", _percent(mnist.challenger_accuracy))
    st.markdown("**Accuracy per digit on the held-out people**")
    st.plotly_chart(
        charts.paired_per_digit_figure(
            people.champion_per_digit, people.challenger_per_digit, names
        ),
        config=charts.PLOTLY_CONFIG,
    )
    if challenger.serving:
        st.caption(f"{challenger.name} is the champion.")
    elif challenger.promotable:
        st.button(
            f"Promote {challenger.name}", type="primary", icon=":material/workspace_premium:",
            on_click=_promote, args=(challenger.name,), key="loop-promote",
        )  # fmt: skip


def _start(exclude_suspicious: bool) -> None:
    try:
        st.toast(learning.start_finetune(exclude_suspicious), icon=":material/model_training:")
    except jobs.JobBusyError as error:
        st.session_state["loop-refused"] = str(error)


def _job_panel() -> None:
    job = resources.read(jobs.latest_job)
    if job is not None and job.state == "running":
        st.progress(job.progress, text=f"Fine-tune #{job.id} running: {job.progress:.0%}")
    elif st.session_state.get("loop-was-running"):
        st.session_state["loop-was-running"] = False
        st.rerun()  # the job ended: show its report and the promote button
    refused = st.session_state.pop("loop-refused", None)
    if refused:
        st.warning(refused, icon=":material/hourglass:")
    if job is not None and job.state == "failed":
        st.error(f"Fine-tune #{job.id} failed: {job.message}", icon=":material/error:")
    tail = None if job is None else learning.log_tail(job)
    if tail:
        with st.expander(f"Log of fine-tune #{job.id}", expanded=job.state == "running"):
            st.code(tail, language=None)


st.divider()
st.header("Learning from labels")
st.caption(
    "Fine-tune a challenger on the labelled drawings, compare it with the champion on "
    "people it never saw, and promote it: every app replica serves it within "
    f"{resources.CHAMPION_TTL_S} s."
)
resources.stop_unless_store_reachable()
versions = resources.read(learning.versions_and_lineage)
if versions is not None:
    serving = resources.serving_choice()
    chosen = "the champion" if bool(versions["champion"].any()) else "no champion set yet"
    st.markdown(f"**Serving:** `{serving.name}` ({chosen})")
    _versions_table(versions)
challenger = resources.read(learning.latest_challenger)
if challenger is not None:
    _evidence(challenger)

st.subheader("Fine-tune")
latest = resources.read(jobs.latest_job)
running = latest is not None and latest.state == "running"
st.session_state["loop-was-running"] = running
with st.container(horizontal=True, vertical_alignment="center"):
    exclude = st.checkbox(
        "Leave out suspicious labels", key="loop-exclude",
        help="Drawings whose label the base model finds unlikely (cleanlab) are not learnt.",
    )  # fmt: skip
    st.button(
        "Start a fine-tune", icon=":material/model_training:", key="loop-start",
        on_click=_start, args=(exclude,),
        help="Runs `python run_model.py finetune` in the background: one at a time.",
    )  # fmt: skip
st.fragment(_job_panel, run_every=2 if running else None)()
