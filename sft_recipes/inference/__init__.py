"""Inference: resolve and load models (Hub id, local dir, GGUF, embedded), generate answers that stop where the
model's turn ends, and encode prompts that share a long opening once.

    models.py        resolve a recipe's model_name_or_path; load tokenizer / model; GGUF -> dense cache
    loading.py       a base model, an adapter run or an export, with the tokenizer the run trained with
    settings.py      GenerationSettings: decoding budget, sampling, seed, batch size, stop strings
    generate.py      batched generation with the template's stop tokens, prompts encoded as in training
    prefix_cache.py  prompts sharing a long opening (one document, many questions) encoded once
"""

from sft_recipes.inference.generate import GenerationError, encode_prompt, generate, generate_token_ids
from sft_recipes.inference.settings import GenerationSettings
from sft_recipes.inference.loading import load_for_inference, load_inference_tokenizer
from sft_recipes.inference.models import ModelNotFound, load_model, load_tokenizer, resolve_model

__all__ = ["GenerationError", "GenerationSettings", "ModelNotFound", "encode_prompt", "generate", "generate_token_ids",
           "load_for_inference", "load_inference_tokenizer", "load_model", "load_tokenizer", "resolve_model"]
