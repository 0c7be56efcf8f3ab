"""Population-based training with each member a run of its own, the members trained in turn.

Where the members are not stacked into one batched group (a training function of yours, or the
built-in models on ``executor="thread"``), each member is an ordinary run in a thread of its own and
a ``Population`` gives them turns: one member trains at a time, as the thread executor trains one
trial at a time, up to the next judged epoch (``PBT.due``), where it waits. When every member still
training has arrived, the worst take the best ones' weights and optimizer state in memory
(``Trainer.take_state_of``: a training function's watched modules, optimizers and schedulers), move
their values as live knobs (``run.update``), and the turns start again from the first member.

A member that ends (completed, stopped, diverged, failed) leaves the population; a trial that joins
after the first member started trains on its own. A judgement that fails (the metric is in no row)
ends every waiting member with its error, so none waits for ever.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from ...objective import is_finite_number
from ..control.callbacks import Callback
from ..control.threads import free_idle_thread_team
from .decide import PBT, Jump
from .exploit import exploit
from ..fit.report import is_loss

if TYPE_CHECKING:  # pragma: no cover
    from ..run import Run

POLL_SECONDS = 0.1  # a waiting member looks this often whether its run was stopped


class Population:
    """The turns and judgements of members that train as runs of their own. See the module docstring."""

    def __init__(self, pbt: PBT) -> None:
        self.pbt = pbt
        self.rounds = 0  # judgements made
        self._cond = threading.Condition()
        self._joined = 0
        self._runs: dict[int, "Run"] = {}  # position -> its run, once started
        self._live: list[int] = []  # positions still training (or yet to start), in turn order
        self._arrived: set[int] = set()  # live positions waiting at this round's judged epoch
        self._turn: int | None = None  # the position whose turn it is
        self._started = False
        self._error: BaseException | None = None

    def member(self) -> "PopulationMember | None":
        """The next member's callback, or None once a member started (a late trial trains on its own)."""
        with self._cond:
            if self._started:
                return None
            position, self._joined = self._joined, self._joined + 1
            self._live.append(position)
            return PopulationMember(self, position)

    # ---- what a member's callback calls ----------------------------------------------------------
    def start(self, position: int, run: "Run") -> None:
        with self._cond:
            self._started = True
            self._runs[position] = run
            self._wait_for_turn(position, run)

    def arrive(self, position: int, run: "Run") -> None:
        """Wait at a judged epoch until every live member arrived and was judged, then for the turn."""
        problem = run.trainer.population_problem(run)
        if problem:
            raise ValueError(problem)
        with self._cond:
            self._arrived.add(position)
            judged = self.rounds
            self._advance()
            self._wait_until(lambda: self.rounds != judged or run.control.stop_requested)
            self._wait_for_turn(position, run)  # raises a failed judgement's error

    def leave(self, position: int) -> None:
        """The member ended, is ending or never started: nobody waits for it, nobody takes its state.
        Leaving twice changes nothing."""
        with self._cond:
            self._leave(position)

    # ---- inside (the lock held) ----------------------------------------------------------------
    def _leave(self, position: int) -> None:
        if position in self._live:
            self._live.remove(position)
        self._arrived.discard(position)
        if self._turn == position:
            self._turn = None
        self._advance()

    def _wait_for_turn(self, position: int, run: "Run") -> None:
        self._advance()
        self._wait_until(lambda: self._turn == position or run.control.stop_requested or self._error is not None)
        if self._error is not None:
            raise self._error
        if run.control.stop_requested:  # it ends now: its loop lets go of its state on the way out
            self._leave(position)

    def _wait_until(self, done: Callable[[], bool]) -> None:
        if done():
            return
        free_idle_thread_team()  # a waiting thread's OpenMP team would slow the one that trains
        while not done():
            self._cond.wait(POLL_SECONDS)

    def _advance(self) -> None:
        """Judge once every live member arrived; hand the turn to the first that has not."""
        if self._live and set(self._live) <= self._arrived:
            try:
                self._judge()
            except Exception as e:  # noqa: BLE001 - every waiting member ends with it
                self._error = e
            self._arrived.clear()
            self.rounds += 1
        if any(p not in self._runs for p in self._live):
            self._turn = None  # the first turn waits until every member was built (a build seeds torch's generator)
        elif self._turn not in self._live or self._turn in self._arrived:
            self._turn = next((p for p in self._live if p not in self._arrived), None)
        self._cond.notify_all()

    def _judge(self) -> None:
        """Every live member waits at the same epoch's end: the worst take the best ones' state."""
        runs = [run for run in (self._runs[p] for p in self._live) if not (run.control.stop_requested or run.done)]

        def take_state(jump: Jump) -> None:
            member = runs[jump.member]
            member.trainer.take_state_of(member, runs[jump.donor], self.pbt.names)
            member.update(**jump.values)  # applied by its own loop before its next batch: a knob event

        exploit(self.pbt, runs, take_state)


class PopulationMember(Callback):
    """A member's place in its ``Population``: it waits for its turn, at each judged epoch, and leaves at its end."""

    def __init__(self, population: Population, position: int) -> None:
        self.population, self.position = population, position

    def on_train_start(self, run: "Run") -> None:
        run.in_population = True
        self.population.start(self.position, run)

    def on_epoch_end(self, run: "Run", metrics: dict[str, Any]) -> None:
        if any(is_loss(name) and not is_finite_number(value) for name, value in metrics.items()):
            self.leave()  # it ends diverged: neither donor nor receiver, as in a batched group
            return
        epochs = run.trainer.planned_epochs(run.hparams)
        if epochs is not None and self.population.pbt.due(metrics["epoch"], epochs):
            self.population.arrive(self.position, run)

    def on_train_end(self, run: "Run") -> None:
        self.leave()

    def leave(self) -> None:
        self.population.leave(self.position)
