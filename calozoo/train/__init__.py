"""Training and fine-tuning with the published recipes (TensorFlow or JAX)."""

from calozoo.train.data import TrainingData
from calozoo.train.finetune import finetune, train, training_data
from calozoo.train.losses import EnergyFit
from calozoo.train.recipes import (CPU_BATCH_SIZES, RECIPES, SEARCH_SPACES, Recipe,
                                   load_recipe, recipe, write_recipe)
from calozoo.train.search import tune
from calozoo.train.trainer import Trainer, check_run_dir, last_checkpoint

__all__ = ["CPU_BATCH_SIZES", "RECIPES", "SEARCH_SPACES", "EnergyFit", "Recipe", "Trainer",
           "TrainingData", "check_run_dir", "finetune", "last_checkpoint", "load_recipe",
           "recipe", "train", "training_data", "tune", "write_recipe"]
