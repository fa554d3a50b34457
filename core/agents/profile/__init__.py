"""Profile agents: each looks at every column of the loaded tables and reports what it finds.

They share one inference of types and missing cells (`inference.py`), cached per column in
the run's context, so running more agents does not repeat the expensive work.
"""
