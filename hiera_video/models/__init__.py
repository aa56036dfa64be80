"""Hiera models. Importing this package registers every model class in ``registry.MODELS``."""
from .hiera import Hiera
from .mae import MaskedAutoencoderHiera
from .zoo import create_model, list_models, list_pretrained, model_config

__all__ = ["Hiera", "MaskedAutoencoderHiera", "create_model", "list_models", "list_pretrained",
           "model_config"]
