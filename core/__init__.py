"""The task engine: tool registry, task service, runner, agents, billing, reports, executors and CLI.

`core` imports neither Streamlit nor FastAPI: the UI pages and the REST API are two faces of
the same services, so every rule lives here once.
"""
