"""Per-epoch losses, validation loss, progress and cancel around one ``cellpose.train.train_seg`` call.

``train_seg`` reports nothing until it returns: Cellpose's loss function is wrapped to record each training
batch's loss, and a torch optimizer step hook marks the end of each epoch (see :mod:`.run`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._cancel import CancelCheck
from .._cancel import is_cancelled as _is_cancelled
from ..errors import CancelledError
from .data import (
    TrainingFrame,
)
from .options import ProgressCallback, TrainingProgress


class _EpochObserver:
    """Per-epoch losses, validation loss, progress and cancel around one ``train_seg`` call."""

    def __init__(
        self,
        net: Any,
        val_frames: list[TrainingFrame],
        n_epochs: int,
        steps_per_epoch: int,
        images_per_epoch: int,
        batch_size: int,
        crop_size: int,
        progress: ProgressCallback | None,
        cancel: CancelCheck,
    ) -> None:
        from cellpose import dynamics, models, utils
        from cellpose import train as cp_train

        self.net = net
        self.n_epochs = n_epochs
        self.steps_per_epoch = steps_per_epoch
        self.images_per_epoch = images_per_epoch
        self.batch_size = batch_size
        self.crop_size = crop_size
        self.progress = progress
        self.cancel = cancel
        self.params_ids = {id(p) for p in net.parameters()}
        self.steps = 0
        self.batch_sum = 0.0
        self.train_losses: list[float] = []
        self.validation_losses: list[float] = []
        self.learning_rates: list[float] = []
        self.epoch_seconds: list[float] = []
        self.validation_seconds: list[float] = []
        self._t_epoch = time.perf_counter()
        # validation data exactly as train_seg prepares test data: flows, diameters, normalisation
        labels = [f.labels.copy() for f in val_frames]
        self.val_flows = dynamics.labels_to_flows(labels, device=net.device)
        diams = np.array([utils.diameters(fl[0])[0] for fl in self.val_flows])
        diams[diams < 5] = 5.0
        self.val_diams = diams
        norm = {**models.normalize_default, "normalize": True}
        self.val_data = cp_train._reshape_norm(
            [f.image for f in val_frames], channels=[0, 0], channel_axis=None, rgb=False,
            normalize_params=norm,
        )
        self._loss_fn = cp_train._loss_fn_seg

    # the wrapped loss: the value train_seg itself computes, recorded for training batches
    def loss(self, lbl: Any, y: Any, device: Any) -> Any:
        import torch

        value = self._loss_fn(lbl, y, device)
        if torch.is_grad_enabled():
            self.batch_sum += float(value.item()) * len(lbl)
        return value

    def validation_loss(self) -> float:
        """``train_seg``'s test loss (seed 42, same augmentation and loss) for the current weights."""
        import torch
        from cellpose import train as cp_train
        from cellpose import transforms

        state = np.random.get_state()
        was_training = self.net.training
        try:
            np.random.seed(42)
            n = len(self.val_data)
            rperm = np.random.permutation(np.arange(0, n))
            total = 0.0
            for start in range(0, n, self.batch_size):
                inds = rperm[start:start + self.batch_size]
                with torch.no_grad():
                    self.net.eval()
                    imgs, lbls = cp_train._get_batch(inds, data=self.val_data, labels=self.val_flows)
                    rsc = self.val_diams[inds] / self.net.diam_mean.item()
                    imgi, lbl = transforms.random_rotate_and_resize(
                        imgs, Y=lbls, rescale=rsc, scale_range=0.5, xy=(self.crop_size, self.crop_size)
                    )[:2]
                    y = self.net(torch.from_numpy(imgi).to(self.net.device))[0]
                    total += float(self._loss_fn(lbl, y, self.net.device).item()) * len(imgi)
            return total / n
        finally:
            self.net.train(was_training)
            np.random.set_state(state)

    def step_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if not any(id(p) in self.params_ids for g in optimizer.param_groups for p in g["params"]):
            return
        self.steps += 1
        if self.steps % self.steps_per_epoch:
            return
        epoch = self.steps // self.steps_per_epoch
        train_loss = self.batch_sum / self.images_per_epoch
        self.batch_sum = 0.0
        t_val = time.perf_counter()
        val_loss = self.validation_loss()
        self.validation_seconds.append(time.perf_counter() - t_val)
        lr = float(optimizer.param_groups[0]["lr"])
        now = time.perf_counter()
        self.epoch_seconds.append(now - self._t_epoch)
        self._t_epoch = now
        self.train_losses.append(train_loss)
        self.validation_losses.append(val_loss)
        self.learning_rates.append(lr)
        if self.progress is not None:
            self.progress(TrainingProgress(
                "training", f"epoch {epoch}/{self.n_epochs}: train loss {train_loss:.4f}, "
                f"validation loss {val_loss:.4f}", epoch, self.n_epochs, train_loss, val_loss, lr,
                self.epoch_seconds[-1],
            ))
        if _is_cancelled(self.cancel):
            raise CancelledError(f"training cancelled after epoch {epoch} of {self.n_epochs}; nothing saved")
        self._t_epoch = time.perf_counter()

    @contextlib.contextmanager
    def attached(self) -> Iterator[_EpochObserver]:
        """Wrap Cellpose's loss and hook the optimizer for the duration of one ``train_seg`` call."""
        from cellpose import train as cp_train
        from torch.optim.optimizer import register_optimizer_step_post_hook

        handle = register_optimizer_step_post_hook(self.step_hook)
        cp_train._loss_fn_seg = self.loss
        try:
            yield self
        finally:
            cp_train._loss_fn_seg = self._loss_fn
            handle.remove()
