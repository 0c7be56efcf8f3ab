"""What any run offers, whoever trains it: pause and stop (``run_control.py``), the events it emits
(``events.py``), callback hooks (``callbacks.py``), live knobs (``knobs.py``), the threads runs train in
(``threads.py``), its history (``history.py``), safe copies of training state (``state.py``), the trainer
contract (``trainer.py``) and ``RunLike`` (``run_like.py``), the protocol the loops, the trainers and
``Report`` speak to instead of ``Run``.
"""
