"""What the TrainPanel and the SweepPanel share: the panel and form bases, the display pump, the Bokeh
widget, message markup, pure formatting, the run-history grid and plot points.
"""
