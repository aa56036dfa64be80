"""How far our MAE is from the release's on the release's own factory and weights.

    python benchmarks/mae_reference_diff.py [--model mae_hiera_base_16x224] [--decoder-num-heads N]

Builds the reference with its public factory (``hiera.<model>()``, random weights), saves
them in the official format, loads the file with ``create_model(model, pretrained=file)``
and runs both on one input and one keep-mask. Prints the relative loss difference and the
largest prediction and label differences. Needs ``pip install hiera-transformer``.
"""
import argparse
import os
import tempfile
import warnings

import torch

from hiera_video import create_model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mae_hiera_base_16x224")
    p.add_argument("--mask-ratio", type=float, default=0.9)
    p.add_argument("--decoder-num-heads", type=int, default=None, help="override ours (default: the name's)")
    args = p.parse_args(argv)
    import hiera

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(hiera, args.model)().eval()
    overrides = {} if args.decoder_num_heads is None else {"decoder_num_heads": args.decoder_num_heads}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "official.pth")
        torch.save({"model_state": ref.state_dict()}, path)
        ours = create_model(args.model, pretrained=path, **overrides).eval()
    x = torch.randn(1, 3, *ours.input_size)
    mask = ours.keep_mask_from_idx(ours.random_keep(1, args.mask_ratio))
    with torch.no_grad():
        loss_r, pred_r, label_r, _ = ref(x, mask=mask)
        loss, pred, label, _ = ours(x, mask=mask)
    heads = ours.decoder_blocks[0].attn.heads
    print(f"{args.model}: decoder heads ours {heads}, reference {ref.decoder_blocks[0].attn.heads}")
    print(f"  loss ours {loss.item():.6f} reference {loss_r.item():.6f} "
          f"relative difference {abs(loss.item() - loss_r.item()) / abs(loss_r.item()):.2e}")
    print(f"  prediction max abs difference {(pred.reshape(pred_r.shape) - pred_r).abs().max().item():.2e}")
    print(f"  label max abs difference {(label.reshape(label_r.shape) - label_r).abs().max().item():.2e}")


if __name__ == "__main__":
    main()
