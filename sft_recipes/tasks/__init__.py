"""Task families: documents of one kind turned into instruction rows with checkable answers.

    court_opinions/    court opinions (flat rows, CourtListener, Caselaw Access Project, .txt) -> six questions each,
                       every answer found in the prompt; the embedded synthetic corpus; the tasks' metrics

Generic modules only dispatch here (``data/formats.py`` for the format, ``data/load.py`` for the embedded corpus,
``evaluation/metrics.py`` for the metric of each task).
"""
