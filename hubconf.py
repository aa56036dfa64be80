"""torch.hub entry points: one per model name of ``hiera_video.list_models()``.

    model = torch.hub.load("<owner>/hiera_video", "hiera_base_16x224", pretrained=True)
    model = torch.hub.load("<owner>/hiera_video", "hiera_base_16x224", pretrained="mae_k400", num_classes=174)
    model = torch.hub.load("/path/to/hiera_video", "mae_hiera_base_16x224", source="local")

``pretrained``: ``True`` (the release's default checkpoint), a release tag
(``hiera_video.list_pretrained()``) or a checkpoint file; other keywords override the
model's arguments, as in ``hiera_video.create_model``.
"""
dependencies = ["torch", "timm", "iopath", "fvcore"]

from hiera_video.models import zoo as _zoo  # noqa: E402  (underscored: torch.hub.list shows public callables)


def _entry_point(name: str):
    def entry(pretrained=False, **kwargs):
        return _zoo.create_model(name, pretrained=pretrained, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = f"``hiera_video.create_model('{name}', pretrained=pretrained, **kwargs)``."
    return entry


for _name in _zoo.list_models():
    globals()[_name] = _entry_point(_name)
