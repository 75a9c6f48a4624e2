"""Training and fine-tuning with the published recipes (TensorFlow or JAX)."""

from calozoo.train.data import TrainingData
from calozoo.train.finetune import finetune, train, training_data
from calozoo.train.losses import EnergyFit
from calozoo.train.recipes import RECIPES, Recipe, recipe
from calozoo.train.trainer import Trainer, check_run_dir, last_checkpoint

__all__ = ["RECIPES", "EnergyFit", "Recipe", "Trainer", "TrainingData", "check_run_dir",
           "finetune", "last_checkpoint", "recipe", "train", "training_data"]
