"""The CLIP text tower run only up to a batch's longest prompt, shared by the torch path and the ONNX export.

Invariant: ``encode_tokens(model, prompt_tokens(model, tokens))`` equals ``model.encode_text(tokens)``. For
open_clip's ``CLIP`` with a causal mask and end-of-text (argmax) pooling, the padding after the last token
changes nothing, so it is cut off; short prompts (queries, category prompts) then cost a fraction of the full
context. Other model classes get their tokens unchanged and their own ``encode_text``.
"""

from __future__ import annotations

import open_clip
import torch
from open_clip.transformer import text_global_pool


def truncatable(model: torch.nn.Module) -> bool:
    """Whether the padding after each prompt's end-of-text token can be cut off without changing the output."""
    return type(model) is open_clip.CLIP and model.text_pool_type == "argmax" and model.attn_mask is not None


def prompt_tokens(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """tokens cut to the batch's longest prompt where the model allows it (padding is token 0)."""
    if not truncatable(model):
        return tokens
    return tokens[:, : max(1, int((tokens != 0).sum(dim=1).max()))]


def encode_tokens(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip's CLIP.encode_text over tokens of any length up to the context (the length is read from the
    tensor, so an exported graph keeps it dynamic)."""
    if not truncatable(model):
        return model.encode_text(tokens)
    length = tokens.shape[1]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype) + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = text_global_pool(model.ln_final(x), tokens, "argmax")
    return (
        x @ model.text_projection
        if not isinstance(model.text_projection, torch.nn.Linear)
        else model.text_projection(x)
    )
