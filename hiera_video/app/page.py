"""The page: one video input (upload, webcam recording or an example) and a tab per job.

Every job runs through Gradio's queue in one concurrency group (``model``), one at a time; each
writes into its own folder of the session (``workspace.Workspace.job``) and a bad input becomes
a message in the tab's status line (``checks.Rejected``), never a crash of the app.
"""
import logging
import os
from typing import List, Optional

from . import jobs
from .checks import Limits, Rejected, clock
from .models import AppModels
from .workspace import Workspace

logger = logging.getLogger(__name__)
MODEL_QUEUE = "model"  # the concurrency group of every job: the model runs one job at a time


def build_page(models: AppModels, workspace: Workspace, limits: Limits, examples: List[str]):
    """The ``gr.Blocks`` of the app (not launched)."""
    import gradio as gr

    def guarded(request, video, kind: str, work, on_error: tuple):
        """Claim the upload for the session, give the job a folder, turn ``Rejected`` into the status."""
        session = request.session_hash or ""
        if video:
            workspace.claim(session, video)
        with workspace.job(session, kind) as folder:
            try:
                return (gr.Markdown("", visible=False),) + work(folder)
            except Rejected as e:
                return (gr.Markdown(f"**{e}**", visible=True),) + on_error
            except Exception as e:  # noqa: BLE001 - a failed job is reported in its tab; the app serves on
                logger.exception("%s job failed", kind)
                return (gr.Markdown(f"**The {kind} job failed: {type(e).__name__}: {e}**", visible=True),) + on_error

    def top5(video, single_view, request: gr.Request):
        def work(folder):
            r = jobs.top5(models, video, folder, limits, bool(single_view))
            info = f"{r.facts.name}: top-5 over {r.views[0]}x{r.views[1]} views in {r.seconds:.1f} s"
            return {name: score for _, name, score in r.top5}, info, r.pictures
        return guarded(request, video, "top5", work, (None, "", []))

    def timeline(video, stride, request: gr.Request):
        def work(folder):
            r = jobs.timeline(models, video, folder, limits, float(stride or 0))
            rows = [[s["start"], s["end"], s["class"], s["mean_score"]] for s in r.segments]
            info = f"{r.facts.name}: {r.shape[0]} windows, {len(r.segments)} segments in {r.seconds:.1f} s"
            return r.files["png"], rows, [r.files[k] for k in ("csv", "segments", "jsonl")], info
        return guarded(request, video, "timeline", work, (None, None, None, ""))

    def features(video, stride, crops, request: gr.Request):
        def work(folder):
            r = jobs.features(models, video, folder, limits, float(stride or 0), int(crops))
            info = f"{r.facts.name}: features [{r.shape[0]} clips, {r.shape[1]}] in {r.seconds:.1f} s"
            return [r.files["npy"], r.files["json"]], info
        return guarded(request, video, "features", work, (None, ""))

    def reconstruction(video, seed, mask_ratio, request: gr.Request):
        def work(folder):
            r = jobs.reconstruction(models, video, folder, limits, int(seed or 0), float(mask_ratio))
            return r.files["png"], f"{r.facts.name}: {r.settings}"
        return guarded(request, video, "reconstruction", work, (None, ""))

    def end_session(request: gr.Request):
        workspace.end_session(request.session_hash or "")

    def claim(video, request: gr.Request):
        if video:
            workspace.claim(request.session_hash or "", video)

    with gr.Blocks(title="hiera_video") as page:
        gr.Markdown(f"## hiera_video: drop a video in, see what the model sees\n"
                    f"`{os.path.basename(models.checkpoint)}`: {models.summary()}. Videos up to "
                    f"{limits.max_mb:g} MB and {clock(limits.max_seconds)}; one job runs at a time, others wait "
                    f"in the queue.{_unavailable(models)}")
        with gr.Row():
            with gr.Column(scale=2):
                video = gr.Video(label="Video (upload, or record with the webcam)", sources=["upload", "webcam"],
                                 elem_id="video", height=320)
                if examples:
                    gr.Examples(examples, inputs=video, label="Examples")
            with gr.Column(scale=3), gr.Tabs():
                if models.classifier is not None:
                    with gr.Tab("Top-5", id="top5"):
                        single = gr.Checkbox(label="single view (one centre clip instead of the multi-view test)")
                        go = gr.Button("Top-5", variant="primary", elem_id="run-top5")
                        status = _status(gr, "top5")
                        label = gr.Label(num_top_classes=5, label="Top-5", elem_id="top5-label")
                        info = gr.Markdown(elem_id="top5-info")
                        frames = gr.Gallery(label="Frames the model saw (one picture per clip: a column per frame, "
                                                  "a row per crop)", columns=1, object_fit="contain", height="auto",
                                            elem_id="top5-frames")
                        go.click(top5, [video, single], [status, label, info, frames],
                                 api_name="top5", concurrency_id=MODEL_QUEUE)
                    with gr.Tab("Timeline", id="timeline"):
                        stride = gr.Number(0, label="stride (seconds between windows; 0 = the window length)")
                        go = gr.Button("Timeline", variant="primary", elem_id="run-timeline")
                        status = _status(gr, "timeline")
                        plot = gr.Image(label="Scores over time", type="filepath", elem_id="timeline-plot")
                        table = gr.Dataframe(headers=["start (s)", "end (s)", "class", "mean score"],
                                             label="Segments (runs of the same top class)", elem_id="segments")
                        files = gr.File(label="timeline.csv, segments.json, timeline.jsonl", file_count="multiple")
                        info = gr.Markdown()
                        go.click(timeline, [video, stride],
                                 [status, plot, table, files, info], api_name="timeline", concurrency_id=MODEL_QUEUE)
                if models.encoder is not None:
                    with gr.Tab("Features", id="features"):
                        stride = gr.Number(0, label="stride (seconds between windows; 0 = the window length)")
                        crops = gr.Radio([1, 3], value=1, label="spatial crops (averaged)")
                        go = gr.Button("Features", variant="primary", elem_id="run-features")
                        status = _status(gr, "features")
                        files = gr.File(label="NAME.npy [clips, C] and NAME.json (clip times)", file_count="multiple")
                        info = gr.Markdown()
                        go.click(features, [video, stride, crops], [status, files, info],
                                 api_name="features", concurrency_id=MODEL_QUEUE)
                if models.mae is not None:
                    with gr.Tab("MAE reconstruction", id="mae"):
                        seed = gr.Number(0, precision=0, label="mask seed")
                        ratio = gr.Slider(0.0, 0.95, value=float(models.mae.mask_ratio), step=0.05,
                                          label="mask ratio")
                        go = gr.Button("Reconstruct", variant="primary", elem_id="run-mae")
                        status = _status(gr, "mae")
                        image = gr.Image(label="original / masked input / reconstruction", type="filepath",
                                         elem_id="mae-picture")
                        info = gr.Markdown()
                        go.click(reconstruction, [video, seed, ratio],
                                 [status, image, info], api_name="reconstruction", concurrency_id=MODEL_QUEUE)
        video.upload(claim, video, None, queue=False, api_visibility="private")
        page.unload(end_session)
    return page


def _status(gr, name: str):
    return gr.Markdown(visible=False, elem_id=f"{name}-status")


def _unavailable(models: AppModels) -> str:
    missing: List[Optional[str]] = []
    if models.classifier is None:
        missing.append(f"no top-5 or timeline ({models.classifier_error})")
    if models.mae is None and models.classifier is None:
        missing.append(f"no MAE reconstruction ({models.mae_error})")
    return "".join(f"\n\n*{m}*" for m in missing if m)
