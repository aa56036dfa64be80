"""An MAE's constructor arguments read back from its weights' shapes (for a release MAE file,
which carries no config): what ``hiera-visualize-mae`` builds when it is given only a file."""
import math

from .zoo import IMAGE, SIZES, VIDEO


def mae_kwargs_from_state_dict(state: dict) -> dict:
    """Constructor arguments of the MAE that wrote ``state``, read from tensor shapes
    (standard strides and mask units assumed). Heads leave no trace in the weights: the
    encoder's come from the named size with the same width and depth (else 1), the
    decoder's are the release's 16; override them when they differ (a checkpoint of the
    paper's video recipe, configs/MAE, has 8)."""
    w = state["patch_embed.proj.weight"]
    video = w.dim() == 5
    base = {k: v for k, v in (VIDEO if video else IMAGE).items() if k != "num_classes"}
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    starts = [i for i in range(1, depth) if f"blocks.{i}.proj.weight" in state]
    stages = tuple(b - a for a, b in zip([0] + starts, starts + [depth]))
    embed_dim = w.shape[0]
    heads = next((a["num_heads"] for a in SIZES.values()
                  if a["embed_dim"] == embed_dim and tuple(a["stages"]) == stages), 1)
    stride = base["patch_stride"]
    if video:
        side = math.isqrt(state["pos_embed_spatial"].shape[1]) * stride[1]
        input_size = (state["pos_embed_temporal"].shape[1] * stride[0], side, side)
    else:
        side = math.isqrt(state["pos_embed"].shape[1]) * stride[0]
        input_size = (side, side)
    dec_dim = state["decoder_embed.weight"].shape[0]
    dec_depth = len({k.split(".")[1] for k in state if k.startswith("decoder_blocks.")})
    pred_stride = stride[-1] * 2 ** 2
    out = state["decoder_pred.weight"].shape[0]
    target = "pixel" if out == pred_stride ** 2 * w.shape[1] else "hog"
    base.update(input_size=input_size, in_chans=w.shape[1], embed_dim=embed_dim, num_heads=heads, stages=stages,
                q_pool=len(state_keys_prefix(state, "multi_scale_fusion_heads.")) or 2,
                decoder_embed_dim=dec_dim, decoder_depth=dec_depth, decoder_num_heads=16,
                mask_ratio=0.9 if video else 0.6, target=target)
    return base


def state_keys_prefix(state: dict, prefix: str) -> set:
    """Distinct module indices under ``prefix`` (e.g. fusion heads with weights)."""
    return {k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)}
