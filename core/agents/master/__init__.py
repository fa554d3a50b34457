"""master-my-data: match records within and across files and merge them into golden records.

The agents run in order and hand their work on through the run's shared cache (see
`state.py`): standardise -> match -> cluster -> golden_record -> reconcile.
"""
