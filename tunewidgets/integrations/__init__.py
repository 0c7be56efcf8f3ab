"""Trainers of other libraries behind the same panels, sweeps, pause, stop and live knobs.

Each integration is a callback you add to that library's trainer inside your ``fit(p, report)``:

- ``tunewidgets.integrations.lightning.TuneCallback(report)`` for a Lightning ``Trainer``
  (``pip install 'tunewidgets[lightning]'``);
- ``tunewidgets.integrations.transformers.TuneCallback(report)`` for a Hugging Face ``Trainer``
  (``pip install 'tunewidgets[transformers]'``).

Neither library is a dependency of tunewidgets: each is imported only by its own module here.
"""
