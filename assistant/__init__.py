"""Multimodal, zero-shot jewelry shopping assistant: the engine (no Streamlit in this package)."""

import os

# OpenMP threads that spin while waiting starve every other process on a small CPU: with one other
# busy process on 2 cores, a 2-thread CLIP text pass took 14x longer than with passive waiting.
# Set before torch is first imported; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
