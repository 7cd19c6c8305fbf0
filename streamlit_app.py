"""Entry point: `streamlit run streamlit_app.py`. Only routing and the frame around pages."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from pages import ui
from pages.dlq_choice import choose_dlq

st.set_page_config(page_title="DLQ dashboard", page_icon=":material/inbox:", layout="wide")

settings = ui.app_settings(entry_point=True)  # stops with one clear line on a bad setting
several = len(settings.dlq_list) > 1


def page(path: str, title: str, icon: str, url_path: str | None = None) -> StreamlitPage:
    if url_path is None:  # the default page lives at the root URL
        return st.Page(path, title=title, icon=icon, default=True)
    return st.Page(path, title=title, icon=icon, url_path=url_path)


navigation = st.navigation(
    {
        "Triage": [
            # Every DLQ at a glance, first; Overview (one DLQ) stays the root page.
            *(
                [page("pages/all-dlqs.py", "All DLQs", ":material/view_list:", "all-dlqs")]
                if several
                else []
            ),
            page("pages/overview.py", "Overview", ":material/monitoring:"),
            page("pages/patterns.py", "Patterns", ":material/category:", "patterns"),
            page("pages/messages.py", "Messages", ":material/search:", "messages"),
            page("pages/escalation.py", "Escalation", ":material/campaign:", "escalation"),
        ],
        "Review": [
            page("pages/daily-review.py", "Daily review", ":material/today:", "daily-review"),
            page(
                "pages/weekly-cleanup.py",
                "Weekly cleanup",
                ":material/date_range:",
                "weekly-cleanup",
            ),
            page("pages/reports.py", "Reports", ":material/summarize:", "reports"),
        ],
        "Record": [
            page("pages/audit.py", "Audit", ":material/history_edu:", "audit"),
        ],
    }
)
with ui.reads_of_this_run():
    choice = choose_dlq(settings)  # in the sidebar, above the footer
    ui.sidebar_footer(settings, choice)
    if choice is None:  # the URL names no configured DLQ: said in one line, nothing else shown
        st.stop()
    navigation.run()
