"""Task families: documents of one kind turned into instruction rows with checkable answers.

    court_opinions/    court opinions (flat rows, CourtListener, Caselaw Access Project, .txt) -> six questions each,
                       every answer found in the prompt; the embedded synthetic corpus; the tasks' metrics

    registry.py        what a family registers for generic stages: each task's headline metric and scores

Generic modules only dispatch here (``data/formats.py`` for the format, ``data/load.py`` for the embedded corpus);
``evaluation/metrics.py`` asks ``registry.py`` for the metric of each task.
"""
