"""The SweepPanel (``panel.py``): its settings, the space editor, the ranked table, the charts under a
finished sweep, pure text, and what it sweeps (``target.py``).
"""
