"""Training: the loop, its callbacks, optimisers, schedules, the learning-rate finder and checkpoints.

Knows nothing about tables: it trains an ``nn.Module`` on encoded tensors
(``{"dense": (N, D), "categorical": (N, K), ...}`` and labels ``(N,)``).

    from traincraft.training import Trainer
    result = Trainer(model, recipe.train, task="multiclass", run_dir="runs/x").fit(x_train, y_train, x_val, y_val)
"""

from traincraft.training.callbacks import Callback
from traincraft.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from traincraft.training.device import autocast_context, pick_device
from traincraft.training.early_stopping import EarlyStopping
from traincraft.training.lr_finder import LRFindResult, find_lr
from traincraft.training.metrics_log import MetricsLog, read_metrics
from traincraft.training.optim import build_optimizer
from traincraft.training.rng import RNGState, capture_rng_state, restore_rng_state
from traincraft.training.schedule import LRSchedule
from traincraft.training.trainer import FitResult, Trainer

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "FitResult",
    "LRFindResult",
    "LRSchedule",
    "MetricsLog",
    "RNGState",
    "Trainer",
    "autocast_context",
    "build_optimizer",
    "capture_rng_state",
    "find_lr",
    "load_checkpoint",
    "pick_device",
    "read_metrics",
    "restore_rng_state",
    "save_checkpoint",
]
