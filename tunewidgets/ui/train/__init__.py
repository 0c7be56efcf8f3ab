"""The TrainPanel (``panel.py``): its hyperparameter controls, the controls of a training function's
values, and what it trains (``target.py``).
"""
