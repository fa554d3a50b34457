"""Analysis agents: small units with an id and `run(context) -> AgentResult`.

An agent never touches the database or storage; the runner hands it the loaded tables and
collects what it returns.
"""
