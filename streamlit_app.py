"""Entry point: `streamlit run streamlit_app.py`. Only routing and the frame around pages."""

from __future__ import annotations

import streamlit as st

from pages import ui

st.set_page_config(page_title="DLQ dashboard", page_icon=":material/inbox:", layout="wide")

settings = ui.app_settings()  # stops with one clear line when a setting is bad

navigation = st.navigation(
    {
        "Triage": [
            st.Page(
                "pages/overview.py", title="Overview", icon=":material/monitoring:", default=True
            ),
            st.Page(
                "pages/patterns.py",
                title="Patterns",
                icon=":material/category:",
                url_path="patterns",
            ),
            st.Page(
                "pages/messages.py", title="Messages", icon=":material/search:", url_path="messages"
            ),
        ],
    }
)
ui.sidebar_footer(settings)
navigation.run()
