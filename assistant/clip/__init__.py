"""The CLIP model: one factory from a model spec to a ready model (``factory.py``, with architectures as
data in ``model_configs/``) and the embedder that turns photos and texts into unit vectors of one space."""

from assistant.clip.embedder import Embedder
from assistant.clip.factory import DEFAULT_MODEL_SPEC, TEST_MODEL_SPEC, ModelSpec, ModelSpecError, ModelWeightsMissing

__all__ = ["DEFAULT_MODEL_SPEC", "TEST_MODEL_SPEC", "Embedder", "ModelSpec", "ModelSpecError", "ModelWeightsMissing"]
