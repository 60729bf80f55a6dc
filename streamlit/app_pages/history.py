"""History: every stored prediction with its drawing -- filter, relabel, delete, export.

Layout only: rows come from `db.repository.list_predictions`, changes go through
`set_label` / `delete_prediction`, one transaction each.
"""

from __future__ import annotations

import charts
import learning
import pandas as pd
import resources
import streamlit as st

from db import drawings, repository
from db.drawing_file import format_lines
from db.filters import Filters

STATUS_CHOICES = {
    "all": "All",
    "labelled": "Labelled",
    "unlabelled": "Unlabelled only",
    "wrong": "Wrong only",
    "unsure": "Unsure",
    "suspicious": "Suspicious labels",
}
ROW_LIMITS = [50, 200, 1000]
TABLE_COLUMNS = [
    "drawing", "id", "predicted_digit", "confidence", "unsure", "true_label", "correct",
    "created_at", "model_name", "source",
]  # fmt: skip
CSV_COLUMNS = [
    "id", "created_at", "model_name", "predicted_digit", "confidence", "unsure",
    "true_label", "labeled_at", "source", "latency_ms", "session_id", "probabilities",
]  # fmt: skip


def _relabel(prediction_id: int) -> None:
    label = st.session_state[f"history-label-{prediction_id}"]
    problem = resources.write(repository.set_label, prediction_id, label)
    if problem:
        st.toast(problem, icon=":material/error:")
    else:
        st.toast(
            f"Prediction #{prediction_id} is now labelled **{label}**.", icon=":material/edit:"
        )


def _delete(prediction_id: int) -> None:
    problem = resources.write(repository.delete_prediction, prediction_id)
    if problem:
        st.toast(problem, icon=":material/error:")
    else:
        st.toast(f"Prediction #{prediction_id} deleted.", icon=":material/delete:")


def _describe(row: pd.Series) -> str:
    label = "unlabelled" if pd.isna(row["true_label"]) else f"labelled {row['true_label']}"
    when = row["created_at"].strftime("%Y-%m-%d %H:%M")
    return f"#{row['id']} · predicted {row['predicted_digit']} · {label} · {when}"


st.title("History")
resources.stop_unless_store_reachable()

status_column, version_column, limit_column = st.columns([2, 2, 1])
with status_column:
    status = st.segmented_control(
        "Show",
        list(STATUS_CHOICES),
        format_func=STATUS_CHOICES.get,
        default="all",
        key="history-status",
    )
with version_column:
    version = resources.model_version_filter(key="history-version")
with limit_column:
    limit = st.selectbox("Rows", ROW_LIMITS, key="history-limit")

suspicious = status == "suspicious"
rows = resources.read(
    repository.list_predictions,
    Filters(model_version_id=version),
    status="labelled" if suspicious else status or "all",
    limit=None if suspicious else limit,
)
if rows is not None and suspicious:
    rows = learning.suspicious_first(rows).head(limit)
    st.caption(
        "Labelled drawings whose label the serving model finds unlikely (cleanlab), most "
        "suspicious first: fix the label or delete the drawing below. "
        "`run_model.py finetune --exclude-suspicious` leaves such drawings out."
    )
if rows is not None and rows.empty:
    if suspicious:
        st.info("No label looks suspicious to the serving model.", icon=":material/verified:")
    elif (status or "all") == "all" and version is None:
        st.info(
            "**No predictions stored yet.** Every digit you label on the Draw page "
            "appears here with its drawing.",
            icon=":material/history:",
        )
        st.page_link("app_pages/draw.py", label="Draw a digit", icon=":material/draw:")
    else:
        st.info("No predictions match these filters.", icon=":material/filter_alt_off:")
elif rows is not None:
    table = rows.assign(
        drawing=[charts.digit_data_url(repository.image_as_array(b)) for b in rows["image"]],
        correct=(rows["true_label"] == rows["predicted_digit"]).astype("boolean"),
    )
    st.dataframe(
        table,
        hide_index=True,
        column_order=TABLE_COLUMNS,
        column_config={
            "drawing": st.column_config.ImageColumn("drawing", width="small"),
            "id": st.column_config.NumberColumn("#", format="%d"),
            "predicted_digit": "predicted",
            "confidence": st.column_config.ProgressColumn(
                "confidence", format="percent", min_value=0.0, max_value=1.0
            ),
            "true_label": "label",
            "unsure": st.column_config.CheckboxColumn("unsure?"),
            "correct": st.column_config.CheckboxColumn("right?"),
            "created_at": st.column_config.DatetimeColumn("time", format="YYYY-MM-DD HH:mm"),
            "model_name": "model",
        },
        row_height=60,
        height=min(60 * len(table) + 40, 640),
    )
    csv = table[CSV_COLUMNS].assign(
        probabilities=table["probabilities"].map(lambda p: " ".join(f"{x:.6f}" for x in p))
    )
    shown = resources.read(drawings.stored_drawings, ids=[int(i) for i in rows["id"]])
    with st.container(horizontal=True):
        st.download_button(
            "Download CSV",
            csv.to_csv(index=False).encode("utf-8"),
            file_name="digitlab-predictions.csv",
            mime="text/csv",
            icon=":material/download:",
            key="history-csv",
        )
        st.download_button(
            "Download JSON Lines",
            format_lines(shown or []).encode("utf-8"),
            file_name="digitlab-drawings.jsonl",
            mime="application/jsonl",
            icon=":material/download:",
            key="history-jsonl",
            help="The drawings with their strokes: `python run_model.py import-drawings` "
            "reads this file.",
        )

    st.subheader("Relabel or delete")
    described = {int(row["id"]): _describe(row) for _, row in rows.iterrows()}
    pick_column, label_column, actions_column = st.columns([3, 1, 2], vertical_alignment="bottom")
    with pick_column:
        picked = st.selectbox(
            "Prediction", list(described), format_func=described.get, key="history-pick"
        )
    current = rows.loc[rows["id"] == picked, "true_label"].iloc[0]
    with label_column:
        st.selectbox(
            "True digit",
            list(range(10)),
            index=0 if pd.isna(current) else int(current),
            key=f"history-label-{picked}",
        )
    with actions_column, st.container(horizontal=True):
        st.button(
            "Save label",
            icon=":material/check:",
            type="primary",
            on_click=_relabel,
            args=(picked,),
            key="history-save",
        )
        with st.popover("Delete", icon=":material/delete:"):
            st.write(f"Delete prediction #{picked} and its drawing for good?")
            st.button(
                "Delete for good",
                type="primary",
                on_click=_delete,
                args=(picked,),
                key="history-delete",
            )
