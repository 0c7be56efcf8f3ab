"""What many tests share: training functions and tasks, waiting, settings, clusters, the browser."""
