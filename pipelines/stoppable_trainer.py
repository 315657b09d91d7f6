"""A TorchTrainer whose Ctrl-C and SIGTERM are the CLI's, not Ray Train's.

Ray Train's `fit()` installs its own SIGINT handler in the main thread and never puts
the old one back. Ctrl-C then aborted the run and the process exited 1 with no word,
and the stale handler stayed for whatever came next (the quickstart's serving loop,
where Ctrl-C no longer drained). Here `fit()` leaves the signals to
platform/stop_signals.py: a signal raises StopRequested out of `fit()`, and the run's
controller is told to abort on the way out, so on a remote cluster (`--address`) its
workers stop too instead of training on with nobody waiting.
"""
from __future__ import annotations

import ray
from ray.train.torch import TorchTrainer


class StoppableTorchTrainer(TorchTrainer):
    ABORT_TIMEOUT_S = 30

    def _register_sigint_handler(self, controller) -> None:  # Ray Train 2.x's hook, called by fit()
        self._controller = controller

    def fit(self):
        try:
            return super().fit()
        except KeyboardInterrupt:
            controller = getattr(self, "_controller", None)
            if controller is not None:
                try:
                    ray.get(controller.abort.remote(), timeout=self.ABORT_TIMEOUT_S)
                except (ray.exceptions.RayError, TimeoutError):
                    pass  # the controller is gone already: nothing left to stop
            raise
