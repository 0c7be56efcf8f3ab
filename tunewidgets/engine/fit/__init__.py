"""A training function of yours as a run: ``fit(p, report)``. ``trainer.py`` is the trainer a run asks,
``report.py`` what the function talks to, ``params.py`` the values it reads from ``p``.
"""
