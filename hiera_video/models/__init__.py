from .hiera import Hiera
from .zoo import create_model, list_models, model_config

__all__ = ["Hiera", "create_model", "list_models", "model_config"]
