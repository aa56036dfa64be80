"""Classification scoring: softmax scores summed over each video's views, every video counted once.

Each rank adds its items' scores into a ``[num_videos, K]`` table by video index; the
tables are summed over ranks, so a video whose views landed on several ranks (or a shard
of uneven size) is still one row. Items with ``ok`` False (undecodable) add nothing; a
video with no usable view is reported in ``failed_videos`` and left out of accuracy, in
validation as in the test.
"""
import logging
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List

import torch
import torch.nn.functional as F

from hiera_video.utils.collectives import all_reduce_sum

logger = logging.getLogger(__name__)


@dataclass
class ViewScores:
    scores: torch.Tensor  # [V, K] summed softmax over usable views
    usable: torch.Tensor  # [V] usable views per video
    seen: torch.Tensor  # [V] views seen (usable or not)
    labels: torch.Tensor  # [V]
    loss: float  # mean cross-entropy over usable views
    views_per_video: int

    @property
    def scored(self) -> torch.Tensor:
        return self.usable > 0

    def failed_paths(self, dataset) -> List[str]:
        """Videos with no usable view (could not be decoded), in list order; logged once."""
        failed = [dataset.video_paths[v] for v in (~self.scored).nonzero().flatten().tolist()]
        if failed:
            logger.warning("%s: %d of %d videos could not be decoded and are left out of the metrics: %s",
                           dataset.split, len(failed), len(failed) + self.num_videos, ", ".join(failed))
        return failed

    @property
    def num_videos(self) -> int:
        return int(self.scored.sum())

    def topk_acc(self, k: int) -> float:
        if self.num_videos == 0:
            return 0.0
        k = min(k, self.scores.shape[1])
        top = self.scores[self.scored].topk(k, dim=1).indices
        hit = (top == self.labels[self.scored, None]).any(dim=1)
        return float(hit.double().mean()) * 100.0

    @property
    def top1(self) -> float:
        return self.topk_acc(1)

    @property
    def top5(self) -> float:
        return self.topk_acc(5)


@torch.no_grad()
def evaluate_views(model, loader, device, autocast: Callable, num_classes: int) -> ViewScores:
    """Run ``model`` over ``loader`` (items with "video", "label", "index" and optionally "ok")
    and combine the views of each video across all ranks."""
    dataset = loader.dataset
    num_videos = dataset.num_videos
    scores = torch.zeros(num_videos, num_classes, dtype=torch.float64)
    usable = torch.zeros(num_videos, dtype=torch.float64)
    seen = torch.zeros(num_videos, dtype=torch.float64)
    loss_sum = torch.zeros(2, dtype=torch.float64)  # sum, count
    was_training = model.training
    model.eval()
    for batch in regroup(loader, getattr(loader, "views_per_batch", 0)):
        index = batch["index"]
        ok = batch["ok"].bool() if "ok" in batch else torch.ones_like(index, dtype=torch.bool)
        seen.index_add_(0, index, torch.ones(len(index), dtype=torch.float64))
        if not ok.any():
            continue
        video, label = batch["video"], batch["label"]
        if not ok.all():  # boolean indexing copies the whole batch
            video, label = video[ok], label[ok]
        video = video.to(device, non_blocking=True)
        with autocast():
            logits = model(video)
        logits = logits.float().cpu()
        scores.index_add_(0, index[ok], F.softmax(logits, dim=1).double())
        usable.index_add_(0, index[ok], torch.ones(int(ok.sum()), dtype=torch.float64))
        loss_sum += torch.tensor([float(F.cross_entropy(logits, label, reduction="sum")), float(len(label))],
                                 dtype=torch.float64)
    model.train(was_training)
    # One reduction of everything (on the device for NCCL).
    flat = torch.cat([scores.flatten(), usable, seen, loss_sum]).to(device)
    flat = all_reduce_sum(flat).cpu()
    n = num_videos * num_classes
    scores, usable, seen = flat[:n].view(num_videos, num_classes), flat[n:n + num_videos], flat[n + num_videos:n + 2 * num_videos]
    loss_sum = flat[-2:]
    views = getattr(dataset, "num_views", 1)
    wrong = (seen != views).nonzero().flatten()
    if len(wrong):
        raise RuntimeError(f"{len(wrong)} video(s) got a view count other than {views}, e.g. video "
                           f"{int(wrong[0])} got {int(seen[wrong[0]])}: the loader's shards are not disjoint and complete")
    labels = torch.as_tensor(dataset.labels, dtype=torch.long)
    return ViewScores(scores.float(), usable, seen, labels, float(loss_sum[0] / max(1.0, float(loss_sum[1]))), views)


def regroup(batches: Iterable[Dict], size: int) -> Iterator[Dict]:
    """The clips of ``batches`` (dicts of tensors with equal first dims) in batches of exactly
    ``size`` (the last may be smaller); ``size`` 0 passes them through."""
    if size <= 0:
        yield from batches
        return
    pending: List[Dict] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += len(batch["index"])
        while count >= size:
            merged = {k: torch.cat([b[k] for b in pending]) for k in pending[0]}
            yield {k: v[:size] for k, v in merged.items()}
            pending, count = [{k: v[size:] for k, v in merged.items()}], count - size
    if count:
        yield {k: torch.cat([b[k] for b in pending]) for k in pending[0]}


def test_results(res: ViewScores, dataset, checkpoint: str) -> Dict:
    """The test summary (top1/top5 in percent) plus per-video predictions (``predictions``)."""
    names: List[str] = getattr(dataset, "class_names", None) or []
    k = min(5, res.scores.shape[1])
    top_scores, top_idx = (res.scores / res.usable.clamp(min=1)[:, None].float()).topk(k, dim=1)
    predictions = []
    for v, path in enumerate(dataset.video_paths):
        if not res.scored[v]:
            continue
        row = {"path": path, "label": int(res.labels[v]), "top5": top_idx[v].tolist(),
               "scores": [round(float(s), 6) for s in top_scores[v]]}
        if names:
            row["label_name"] = names[int(res.labels[v])]
            row["top5_names"] = [names[i] for i in top_idx[v].tolist()]
        predictions.append(row)
    return {"top1": res.top1, "top5": res.top5, "num_videos": res.num_videos, "num_views": res.views_per_video,
            "checkpoint": checkpoint, "failed_videos": res.failed_paths(dataset),
            "skipped_list_lines": list(getattr(dataset, "skipped_lines", [])), "loss": res.loss,
            "predictions": predictions}


def val_results(res: ViewScores, dataset) -> Dict:
    """Validation metrics for json_stats: top-1/top-5/loss over the decodable videos, and the
    videos left out because they could not be decoded (counted and named, also in the log)."""
    failed = res.failed_paths(dataset)
    return {"top1": res.top1, "top5": res.top5, "loss": res.loss, "num_videos": res.num_videos,
            "num_failed": len(failed), "failed_videos": failed}
