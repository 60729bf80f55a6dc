"""Statistics: how good is the model on real drawings -- overall, per digit, over time.

Layout only: every number comes from `db.analytics` (which sums the `prediction_stats`
summary for whole-day ranges), for the model version and date range chosen at the top.
"""

from __future__ import annotations

from datetime import timedelta

import charts
import learning
import resources
import streamlit as st

from db import analytics
from db.filters import ALL, Filters

MODEL_COLUMNS = [
    "model_name", "architecture", "test_accuracy", "n_predictions", "n", "accuracy",
    "unsure_share", "mean_confidence",
]  # fmt: skip


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _unsure_metrics(report: analytics.UnsureReport) -> None:
    """How "unsure" did on the labelled drawings: how often, on right answers, on errors."""
    figures = [
        ("Flagged unsure", report.flagged,
         f"{report.unsure} of {report.labelled} labelled answers came flagged unsure"),
        ("Unsure on right answers", report.flagged_when_right,
         f"{report.unsure_when_right} of {report.correct} right answers were flagged all the "
         "same: the fewer, the more a flag means"),
        ("Errors caught", report.errors_caught,
         f"{report.unsure_when_wrong} of {report.wrong} wrong answers came flagged unsure"),
        ("Accuracy when sure", report.accuracy_when_sure,
         "on the labelled answers given without the flag"),
    ]  # fmt: skip
    with st.container(horizontal=True):
        for label, value, explained in figures:
            st.metric(label, _percent(value), help=explained, border=True)


st.title("Statistics")
resources.stop_unless_store_reachable()

version_column, dates_column = st.columns([1, 1])
with version_column:
    version = resources.model_version_filter(key="statistics-version")
with dates_column:
    dates = st.date_input(
        "Dates",
        value=(),
        help="Leave empty for all time. Days are UTC; the end day is included.",
        key="statistics-dates",
    )
since = dates[0] if len(dates) >= 1 else None
until = dates[1] + timedelta(days=1) if len(dates) == 2 else None
filters = Filters(model_version_id=version, since=since, until=until)

headline = resources.read(analytics.kpis, filters)
if headline is not None and headline.predictions == 0 and filters == ALL:
    st.info(
        "**Nothing to show yet.** Statistics appear once drawings have been labelled: "
        "draw a few digits and press the right digit under each.",
        icon=":material/insights:",
    )
    st.page_link("app_pages/draw.py", label="Draw a digit", icon=":material/draw:")
elif headline is not None and headline.predictions == 0:
    st.info("No predictions match these filters.", icon=":material/filter_alt_off:")
elif headline is not None:
    with st.container(horizontal=True):
        st.metric("Predictions", f"{headline.predictions:,}", border=True)
        st.metric("Labelled", f"{headline.labelled:,}", border=True)
        st.metric(
            "Accuracy on labelled",
            _percent(headline.accuracy),
            help=f"{headline.correct} of {headline.labelled} labelled predictions were right",
            border=True,
        )
        st.metric(
            "Accuracy, last 24 h",
            _percent(headline.accuracy_last_24h),
            help=f"over {headline.labelled_last_24h} labelled in the last 24 hours",
            border=True,
        )

    if headline.labelled == 0:
        st.info("No labels yet: accuracy needs drawings whose true digit was given.")
    else:
        unsure = resources.read(analytics.unsure_report, filters)
        if unsure is not None:
            _unsure_metrics(unsure)
        left, right = st.columns(2, gap="large")
        with left:
            st.subheader("Accuracy per digit")
            by_digit = resources.read(analytics.accuracy_by_digit, filters)
            if by_digit is not None:
                st.plotly_chart(
                    charts.per_digit_accuracy_figure(by_digit["true_label"], by_digit["accuracy"]),
                    config=charts.PLOTLY_CONFIG,
                )
        with right:
            st.subheader("Confusion matrix")
            matrix = resources.read(analytics.confusion_matrix, filters)
            if matrix is not None:
                st.plotly_chart(charts.confusion_figure(matrix), config=charts.PLOTLY_CONFIG)

        left, right = st.columns(2, gap="large")
        with left:
            st.subheader("Confidence: right vs wrong")
            outcomes = resources.read(analytics.confidence_by_outcome, filters)
            if outcomes is not None:
                st.plotly_chart(
                    charts.confidence_histogram_figure(outcomes), config=charts.PLOTLY_CONFIG
                )
        with right:
            st.subheader("Reliability (calibration)")
            bins = resources.read(analytics.calibration_bins, filters)
            if bins is not None:
                used = bins[bins["n"] > 0]
                st.plotly_chart(
                    charts.reliability_figure(used["mean_confidence"], used["accuracy"], used["n"]),
                    config=charts.PLOTLY_CONFIG,
                )
                error = analytics.expected_calibration_error(bins)
                st.caption(f"Expected calibration error on these drawings: {_percent(error)}")

        st.subheader("Accuracy over time, per model version")
        daily = resources.read(analytics.accuracy_over_time, filters)
        if daily is not None:
            daily = daily.assign(
                version=daily["model_name"] + " (#" + daily["model_version_id"].astype(str) + ")"
            )
            st.plotly_chart(
                charts.accuracy_over_time_figure(daily, x="day", y="accuracy", series="version"),
                config=charts.PLOTLY_CONFIG,
            )

        by_model = resources.read(analytics.accuracy_by_model, filters)
        if by_model is not None and not by_model.empty:
            st.subheader("Model versions")
            st.dataframe(
                by_model[MODEL_COLUMNS],
                hide_index=True,
                column_config={
                    "model_name": "model",
                    "test_accuracy": st.column_config.NumberColumn("MNIST test", format="percent"),
                    "n_predictions": "predictions",
                    "n": "labelled",
                    "accuracy": st.column_config.NumberColumn("on drawings", format="percent"),
                    "unsure_share": st.column_config.NumberColumn("unsure", format="percent"),
                    "mean_confidence": st.column_config.NumberColumn(
                        "mean confidence", format="percent"
                    ),
                },
            )


# --- Two model versions on the same labelled drawings (paired) ----------------------


def _compare_versions() -> None:
    names = resources.model_names()
    if len(names) < 2:
        return
    st.subheader("Two models on the same drawings")
    st.caption(
        "Both models answer every labelled drawing in the store (its 28x28, as the app "
        "saw it), so the comparison is pair by pair: the drawings one gets right and the "
        "other wrong decide it (exact McNemar test)."
    )
    serving = resources.serving_choice().name
    left, right = st.columns(2)
    first = left.selectbox(
        "First", names, index=names.index(serving) if serving in names else 0,
        key="statistics-first",
    )  # fmt: skip
    second = right.selectbox("Second", [n for n in names if n != first], key="statistics-second")
    paired = learning.compare_on_labels(first, second)
    if paired is None:
        st.info("No labelled drawings yet.")
        return
    with st.container(horizontal=True):
        st.metric(first, _percent(paired.champion_accuracy), border=True)
        st.metric(
            second, _percent(paired.challenger_accuracy),
            delta=f"{paired.difference:+.1%}", border=True,
            help=f"on {paired.n} labelled drawings: {paired.challenger_only_correct} right only "
            f"by {second}, {paired.champion_only_correct} only by {first}; "
            f"p = {paired.p_value:.3g}",
        )  # fmt: skip
    st.plotly_chart(
        charts.paired_per_digit_figure(
            paired.champion_per_digit, paired.challenger_per_digit, (first, second)
        ),
        config=charts.PLOTLY_CONFIG,
    )


if headline is not None and headline.labelled > 0:
    _compare_versions()
