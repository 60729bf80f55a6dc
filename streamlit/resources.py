"""What the dashboard's pages share: loaded models, the chosen model, the feedback store.

Why here and cached: Streamlit reruns a page script on every click and every stroke.
Loading a checkpoint (and verifying its SHA-256) or bringing the database to head
must happen once per server process, not per rerun, so they sit behind
`st.cache_resource`; all sessions share one Predictor, which is thread-safe.
Nothing here decides anything about digits or SQL: that lives in `model/` and `db/`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import streamlit as st

from db import champion, repository
from db.errors import first_line
from db.feedback import FeedbackStore
from db.outbox import STORE_ERRORS, Outbox
from db.submission import Drawing, ModelIdentity, Submission
from model.image_io import ImageReadError, read_image
from model.predictor import (
    ModelLoadError,
    Prediction,
    Predictor,
    available_models,
)
from settings import get_settings

SELECTED_MODEL = "selected_model"
# How often an open Draw page sends what waits in the outbox and refreshes its count.
OUTBOX_FLUSH_S = 10
# How long a server trusts its answer to "which model is the champion?": a promotion
# reaches every running replica within this time, without a restart.
CHAMPION_TTL_S = 10
T = TypeVar("T")


def load_predictor(name: str) -> Predictor:
    """The named model from the models folder, loaded and verified once per process."""
    return _load_predictor(str(get_settings().models_dir / f"{name}.pt"))


@st.cache_resource(show_spinner="Loading the model…")
def _load_predictor(weights: str) -> Predictor:
    """Cached by path, not by name: two folders may hold different models of one name."""
    return Predictor.load(weights)


def model_names() -> list[str]:
    return available_models(get_settings().models_dir)


def choose_model(key: str) -> Predictor | None:
    """A selector of every saved model (the default preselected); returns it loaded.

    The choice is kept in session state under a plain key (not the widget's), so
    the Draw and Model pages show the same model and it survives page switches.
    Returns None after showing a clear message when no model can be loaded.
    """
    names = model_names()
    if not names:
        st.error(
            "No trained model found in `saved_models/`. Train one with "
            "`python run_model.py` (or `make train`), then reload this page.",
            icon=":material/error:",
        )
        return None
    serving = serving_choice()
    default = serving.name
    _warn_when_the_default_cannot_serve(serving, names)
    # A person's own pick (kept across pages) wins; otherwise the serving model, which
    # follows promotions on the next rerun.
    current = st.session_state.get(SELECTED_MODEL)
    if current not in names:
        current = default if default in names else names[0]
    st.session_state[key] = current
    name = st.selectbox(
        "Model",
        names,
        key=key,
        on_change=_remember_choice,
        args=(key,),
        help="Every model in saved_models/; the champion (else the default) is preselected.",
    )
    try:
        return load_predictor(name)
    except ModelLoadError as error:
        others = [other for other in names if other != name]
        choose = f" Choose another model above ({', '.join(others)})." if others else ""
        st.error(f"**Model `{name}` cannot be used.** {error}.{choose}", icon=":material/error:")
        return None


def _warn_when_the_default_cannot_serve(serving: champion.ServingChoice, names: list[str]) -> None:
    """Say why the champion or the default model is not what the selector offers first."""
    default = serving.name
    if serving.missing is not None:
        st.warning(
            f"The champion's weights `{serving.missing}` are missing, so the default model "
            f"`{default}` serves instead. Restore the file, or promote another model "
            "(`python run_model.py promote NAME`).",
            icon=":material/warning:",
        )
    if default not in names:
        from model.nets import ARCHITECTURES  # torch: only to word this warning

        known = default in ARCHITECTURES
        train = f"--arch {default}" if known else f"--arch <arch> --name {default}"
        st.warning(
            f"The default model `{default}` is not in `{get_settings().models_dir}` "
            f"(weights `{default}.pt` and card `{default}.json`). Train it with "
            f"`python run_model.py {train}`, or set DIGITLAB_DEFAULT_MODEL; "
            f"the other saved models are offered meanwhile.",
            icon=":material/warning:",
        )


def follow_the_champion(serving: str) -> None:
    """In a fragment's rerun: if a promotion changed the model this page should serve
    (and the person did not pick one), rerun the whole page so that it serves it."""
    if SELECTED_MODEL in st.session_state:
        return
    champion_now = serving_choice().name
    if champion_now != serving and champion_now in model_names():
        st.rerun()


def _remember_choice(key: str) -> None:
    st.session_state[SELECTED_MODEL] = st.session_state[key]


def serving_choice() -> champion.ServingChoice:
    """The model to serve: the store's champion alias, else DIGITLAB_DEFAULT_MODEL.

    While the store cannot be reached, the last champion this server saw keeps serving.
    """
    settings = get_settings()
    url = settings.database_url
    if feedback_store().problem() is None:
        with contextlib.suppress(*STORE_ERRORS):  # keep serving the last one seen
            _last_champion[url] = _champion(url)
    return champion.serving_choice(
        _last_champion.get(url), settings.models_dir, settings.default_model
    )


_last_champion: dict[str, champion.AliasTarget | None] = {}


def forget_champion() -> None:
    """Ask the store again on the next rerun (this server just moved the alias)."""
    _champion.clear()


@st.cache_data(ttl=CHAMPION_TTL_S, show_spinner=False)
def _champion(database_url: str) -> champion.AliasTarget | None:
    with feedback_store().session() as session:
        return champion.get_alias(session)


def canvas_drawing(canvas: Any) -> np.ndarray | None:
    """The canvas's picture, read like an upload (size and pixel limits); None if empty.

    Why not the component's `image_data`: it decodes whatever PNG the browser sent,
    with no limit, and a hand-made websocket message can send anything at all (a
    decompression bomb, a truncated file). ImageReadError says what was wrong.
    """
    try:
        data = canvas.image_bytes
    except ValueError as error:  # not a base64 data URL
        raise ImageReadError(f"drawing: not an image ({error})") from error
    return None if data is None else read_image(data, "drawing")


def browser_session_id() -> str:
    """A random id for this browser session, stored with each prediction it submits."""
    if "browser_session_id" not in st.session_state:
        st.session_state["browser_session_id"] = uuid.uuid4().hex
    return st.session_state["browser_session_id"]


def feedback_store() -> FeedbackStore:
    """This server's feedback store (database, outbox, "is it up?"), one per process."""
    settings = get_settings()
    return _feedback_store(settings.database_url, settings.migration_url, settings.outbox_dir)


@st.cache_resource(show_spinner=False)
def _feedback_store(database_url: str, migration_url: str, outbox_dir: Path) -> FeedbackStore:
    return FeedbackStore(Outbox(outbox_dir), database_url, migration_url=migration_url)


def stop_unless_store_reachable() -> None:
    """For pages that only show stored data: one clear message instead of empty charts."""
    problem = feedback_store().problem()
    if problem is not None:
        st.error(
            f"**The database cannot be reached**, so there is nothing to show.\n\n{problem}",
            icon=":material/cloud_off:",
        )
        st.stop()


def submission(
    predictor: Predictor,
    prediction: Prediction,
    *,
    source: str,
    client_request_id: str,
    label: int | None = None,
    drawing: Drawing | None = None,
) -> Submission:
    """What the feedback store keeps of a prediction; `label` None: nobody labelled it.

    Hand it to `feedback_store().submit(...)`: STORED, QUEUED (on this server's disk,
    sent when the database is back: as safe as STORED) or NOT_SAVED. To label it
    later, submit `submission.labelled(digit)`: the same `client_request_id` stores
    one row. Raises ValueError for a value the store would refuse.
    """
    model = ModelIdentity.from_card_json(predictor.card.to_json())
    return Submission(
        client_request_id=client_request_id,
        model=model,
        predicted_digit=prediction.digit,
        confidence=prediction.confidence,
        probabilities=[float(p) for p in prediction.probabilities],
        image=prediction.input28,
        source=source,
        unsure=prediction.unsure,
        latency_ms=prediction.latency_ms,
        session_id=browser_session_id(),
        true_label=label,
        drawing=drawing,
    )


def read(query: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one `db.repository` / `db.analytics` read in its own session.

    Returns None after showing why when the store cannot be reached, so a page
    degrades to a message instead of a traceback.
    """
    store = feedback_store()
    problem = store.problem()
    if problem is None:
        try:
            with store.session() as session:
                return query(session, *args, **kwargs)
        except STORE_ERRORS as error:
            problem = first_line(error)
    st.error(f"The database cannot be read right now. {problem}", icon=":material/cloud_off:")
    return None


def write(change: Callable[..., None], *args: Any, **kwargs: Any) -> str | None:
    """Run one `db.repository` change in its own transaction; the error text, or None."""
    try:
        with feedback_store().session() as session:
            change(session, *args, **kwargs)
    except ValueError as error:
        return str(error)
    except STORE_ERRORS as error:
        return f"The database cannot be written right now: {first_line(error)}"
    return None


def model_version_filter(key: str) -> int | None:
    """A "Model version" selector over every version in the store; None means all."""
    versions = read(repository.list_model_versions)
    if versions is None or versions.empty:
        return None
    labels = {
        int(row.id): f"{row.name} · {row.weights_sha256[:8]}" for row in versions.itertuples()
    }
    choice = st.selectbox(
        "Model version",
        [None, *labels],
        format_func=lambda version: "All versions" if version is None else labels[version],
        key=key,
    )
    return choice
