"""Streamlit pages: layout and widgets only. Queries, rules and actions live in `dashboard`."""
