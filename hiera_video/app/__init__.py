"""The local web app (``hiera-app``): drop a video in, see what the model sees.

``page`` builds the Gradio page, ``jobs`` runs the project's inference on one upload,
``checks`` accepts or rejects it (size, duration, what FFmpeg reads), ``models`` loads what a
checkpoint can do, ``views`` draws the frames the model saw, ``workspace`` owns every file the
app writes, ``server`` serves it. Gradio is imported by ``page`` only (the ``[app]`` extra).
"""
