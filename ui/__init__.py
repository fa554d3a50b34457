"""Streamlit building blocks shared by the pages: sign-in, session, upload, charts, formatting."""
