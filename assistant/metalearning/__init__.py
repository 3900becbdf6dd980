"""The meta-learning algorithm apart from any task: the MAML inner loop shared by the few-shot and ranking heads."""

from assistant.metalearning.inner_loop import FastWeights, LearningRate, adapt
from assistant.metalearning.summary import FINAL_LOSS_STEPS, final_loss

__all__ = ["FINAL_LOSS_STEPS", "FastWeights", "LearningRate", "adapt", "final_loss"]
