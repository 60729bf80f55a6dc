"""digitlab's dashboard: `streamlit run streamlit/app.py` (what `make run` ends with).

The frame only: page settings and navigation between the four pages, each a file
in `app_pages/` holding its own layout. Models are loaded once per process and the
database is brought to head once per process (see `resources.py`).

Why `app_pages/` and not `pages/`: Streamlit still treats a `pages/` folder beside
the entry script as an old-style multipage app until the first `st.navigation`
call in the process, so on a fresh server a bookmarked `/statistics` ran the page
file bare (no page config, no navigation, an extra "app" page in a sidebar).
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(
    page_title="digitlab",
    page_icon=":material/draw:",
    layout="wide",
    initial_sidebar_state="collapsed",
    menu_items={"About": "digitlab: draw a digit, see what the model thinks, teach it."},
)

PAGES = [
    st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:", default=True),
    st.Page("app_pages/statistics.py", title="Statistics", icon=":material/monitoring:"),
    st.Page("app_pages/history.py", title="History", icon=":material/history:"),
    st.Page("app_pages/model.py", title="Model", icon=":material/model_training:"),
]

st.navigation(PAGES, position="top").run()
