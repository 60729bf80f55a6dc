"""Plotly figures and pictures the dashboard pages show: presentation only.

Why a module: the pages stay layout (where things go), and every chart gets the same
look (one accent colour for "the answer", one muted colour for the rest, no
toolbar, tight margins) without each page restating it. The functions take plain
numbers or the DataFrames `db.analytics` returns and compute nothing beyond what a
picture needs.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

ACCENT = "#ff4b4b"
MUTED = "#8e9aaf"
CORRECT = "#21a366"
WRONG = "#e4572e"
DIGITS = list(range(10))

# Passed to st.plotly_chart: a dashboard, not an analysis notebook.
PLOTLY_CONFIG = {"displayModeBar": False}


def _layout(fig: go.Figure, *, height: int, x_title: str = "", y_title: str = "") -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title=x_title,
        yaxis_title=y_title,
        showlegend=fig.layout.showlegend,
        bargap=0.25,
    )
    return fig


def probabilities_figure(probabilities: Sequence[float], predicted: int) -> go.Figure:
    """Ten bars, the predicted digit's in the accent colour."""
    values = [float(p) for p in probabilities]
    fig = go.Figure(
        go.Bar(
            x=DIGITS,
            y=values,
            marker_color=[ACCENT if d == predicted else MUTED for d in DIGITS],
            text=[f"{v:.0%}" if v >= 0.01 else "" for v in values],
            textposition="outside",
            hovertemplate="digit %{x}: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(tickmode="array", tickvals=DIGITS, fixedrange=True)
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%", fixedrange=True)
    return _layout(fig, height=240, x_title="digit", y_title="probability")


def per_digit_accuracy_figure(
    digits: Sequence[int], accuracy: Sequence[float], *, zoom: bool = False
) -> go.Figure:
    """Accuracy for each true digit, coloured from red (poor) to green (good).

    `zoom` starts the axis just below the worst digit: when every digit is read well,
    their differences vanish on a 0-100 % axis.
    """
    label = ".1%" if zoom else ".0%"  # zoomed, 99.6 % must not read as 100 %
    fig = go.Figure(
        go.Bar(
            x=list(digits),
            y=list(accuracy),
            marker={
                "color": np.nan_to_num(np.asarray(accuracy, float)).tolist(),
                "colorscale": "RdYlGn",
                "cmin": 0.5,
                "cmax": 1,
            },
            text=["" if np.isnan(a) else f"{a:{label}}" for a in np.asarray(accuracy, float)],
            textposition="outside",
            hovertemplate="digit %{x}: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(tickmode="array", tickvals=DIGITS, range=[-0.5, 9.5])
    worst = np.nanmin(np.asarray(accuracy, float)) if zoom and len(accuracy) else 0.0
    low = max(0.0, np.floor(worst * 100 - 1) / 100) if zoom else 0.0
    fig.update_yaxes(range=[low, 1 + (1 - low) * 0.12], tickformat=label)
    return _layout(fig, height=300, x_title="true digit", y_title="accuracy")


def confusion_figure(counts: np.ndarray | pd.DataFrame) -> go.Figure:
    """A 10x10 heatmap of counts: rows are what was drawn, columns what the model said."""
    counts = np.asarray(counts, dtype=int)
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=DIGITS,
            y=DIGITS,
            colorscale="Blues",
            text=np.where(counts > 0, counts.astype(str), ""),
            texttemplate="%{text}",
            hovertemplate="drawn %{y}, predicted %{x}: %{z}<extra></extra>",
            showscale=False,
        )
    )
    fig.update_xaxes(tickmode="array", tickvals=DIGITS, side="top", title_text="predicted")
    fig.update_yaxes(tickmode="array", tickvals=DIGITS, autorange="reversed", scaleanchor="x")
    return _layout(fig, height=380, y_title="true label")


def confidence_histogram_figure(bins: pd.DataFrame) -> go.Figure:
    """Confidence of right and wrong answers, overlaid: wrong ones should sit low.

    `bins` is `db.analytics.confidence_by_outcome`'s frame: counts per confidence bin
    (bin_lower, bin_upper, correct, wrong), already binned by the database.
    """
    centres = ((bins["bin_lower"] + bins["bin_upper"]) / 2).tolist()
    fig = go.Figure()
    for column, name, colour in (("correct", "correct", CORRECT), ("wrong", "wrong", WRONG)):
        counts = [int(n) for n in bins[column]]
        fig.add_trace(
            go.Bar(
                x=centres,
                y=counts,
                name=f"{name} ({sum(counts)})",
                marker_color=colour,
                opacity=0.75,
                customdata=list(zip(bins["bin_lower"], bins["bin_upper"], strict=True)),
                hovertemplate="%{customdata[0]:.0%}-%{customdata[1]:.0%}: %{y}<extra></extra>",
            )
        )
    fig.update_layout(barmode="overlay", showlegend=True, legend={"orientation": "h", "y": 1.1})
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    return _layout(fig, height=300, x_title="confidence", y_title="predictions")


def reliability_figure(
    mean_confidence: Sequence[float], accuracy: Sequence[float], n: Sequence[int]
) -> go.Figure:
    """Accuracy against confidence per bin; a calibrated model follows the diagonal."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"dash": "dot", "color": MUTED},
            name="perfectly calibrated",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(mean_confidence),
            y=list(accuracy),
            mode="lines+markers",
            marker={"size": [6 + 3 * np.log1p(int(c)) for c in n], "color": ACCENT},
            line={"color": ACCENT},
            name="observed",
            customdata=list(n),
            hovertemplate="confidence %{x:.0%}: accuracy %{y:.0%} (n=%{customdata})<extra></extra>",
        )
    )
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": 1.1})
    fig.update_xaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _layout(fig, height=300, x_title="mean confidence", y_title="accuracy")


def accuracy_over_time_figure(frame: pd.DataFrame, *, x: str, y: str, series: str) -> go.Figure:
    """One line per model version: did a new model do better on real drawings?"""
    fig = go.Figure()
    for name, rows in frame.sort_values(x).groupby(series, sort=True):
        fig.add_trace(
            go.Scatter(
                x=rows[x], y=rows[y], mode="lines+markers", marker={"size": 9}, name=str(name)
            )
        )
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": 1.15})
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    days = pd.to_datetime(frame[x])
    if not days.empty:
        # Whole days on the axis, with a day of margin so a single day is not a sliver.
        margin = pd.Timedelta(days=1)
        fig.update_xaxes(
            tickformat="%b %d", dtick=86_400_000, range=[days.min() - margin, days.max() + margin]
        )
    return _layout(fig, height=300, y_title="accuracy")


def digit_data_url(image28: np.ndarray) -> str:
    """A 28x28 image as a PNG data URL, for thumbnails in a table's image column."""
    buffer = io.BytesIO()
    enlarged_digit(image28, size=56).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def enlarged_digit(image28: np.ndarray, size: int = 168) -> Image.Image:
    """The 28x28 input blown up with nearest-neighbour, so each model pixel stays crisp."""
    return Image.fromarray(np.asarray(image28, dtype=np.uint8)).resize(
        (size, size), Image.Resampling.NEAREST
    )


def paired_per_digit_figure(
    first: Sequence[float | None], second: Sequence[float | None], names: tuple[str, str]
) -> go.Figure:
    """Two models' accuracy per true digit on the same drawings, side by side.

    A digit the set holds no drawings of has no bar (None).
    """
    fig = go.Figure()
    for values, name, colour in ((first, names[0], MUTED), (second, names[1], ACCENT)):
        shown = [np.nan if v is None else float(v) for v in values]
        fig.add_trace(
            go.Bar(
                x=DIGITS,
                y=shown,
                name=name,
                marker_color=colour,
                text=["" if np.isnan(v) else f"{v:.0%}" for v in shown],
                textposition="outside",
                hovertemplate=f"{name}, digit %{{x}}: %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", showlegend=True, legend={"orientation": "h", "y": 1.15})
    fig.update_xaxes(tickmode="array", tickvals=DIGITS, range=[-0.5, 9.5])
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%")
    return _layout(fig, height=320, x_title="true digit", y_title="accuracy")
