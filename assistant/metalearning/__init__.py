"""The meta-learning algorithm apart from any task: the MAML inner loop shared by the few-shot and ranking heads."""

from assistant.metalearning.inner_loop import FastWeights, LearningRate, adapt

__all__ = ["FastWeights", "LearningRate", "adapt"]
