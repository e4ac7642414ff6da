"""Task families: documents of one kind turned into instruction rows with checkable answers.

    court_opinions/    court opinions (flat rows, CourtListener, Caselaw Access Project, .txt) -> six questions each,
                       every answer found in the prompt; the embedded synthetic corpus; the tasks' metrics
    registry.py        what a family registers for generic stages: its data format, each task's metric and scores

Generic modules ask ``registry.py`` (``data/formats.py`` for the format, ``evaluation/metrics.py`` for the metric of
each task); ``data/load.py`` still names the embedded synthetic court corpus, and ``recipe/`` takes the family's
data keys from ``court_opinions/arguments.py``.
"""
