from setuptools import find_packages, setup

setup(
    name="hiera_video",
    version="0.1.0",
    description="Video understanding toolkit around Hiera: MAE pretraining, finetuning, multi-view testing, AVA, features",
    packages=find_packages(include=["hiera_video", "hiera_video.*"]),
    package_data={"hiera_video.models": ["kinetics400_classes.txt"]},
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "pytorchvideo==0.1.5",
        "decord>=0.6",
        "av>=12",
        "fvcore",
        "iopath",
        "simplejson",
        "timm>=1.0",
        "safetensors>=0.4",
        "huggingface_hub>=0.23",
        "tqdm",
        "tensorboard",
        "matplotlib",
        "numpy",
        "pillow",
    ],
    extras_require={
        # hiera-transformer is the official reference implementation the tests compare against.
        # onnx/onnxruntime/onnxscript: tools/export.py and its tests (torch's ONNX exporter needs onnxscript).
        # torchcodec: DATA.DECODING_BACKEND torchcodec; needs FFmpeg's shared libraries (apt-get install -y ffmpeg).
        # app: hiera-app, the local web page (Gradio 6: its unload event and api_visibility).
        # playwright (dev): tests/test_app_browser.py drives the system's Chromium; it downloads no browser.
        "torchcodec": ["torchcodec"],
        "app": ["gradio>=6,<7"],
        "dev": ["pytest>=7", "hiera-transformer==0.1.4", "h5py", "onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1",
                "gradio>=6,<7", "gradio_client>=2", "playwright>=1.40"],
    },
    # tools/*.py are shims over these, for PySlowFast habits (python tools/run_net.py ...).
    entry_points={
        "console_scripts": [
            "hiera-run = hiera_video.cli.run_net:main",
            "hiera-extract = hiera_video.cli.extract_features:main",
            "hiera-demo = hiera_video.cli.demo_net:main",
            "hiera-check-dataset = hiera_video.cli.check_dataset:main",
            "hiera-benchmark = hiera_video.cli.benchmark:main",
            "hiera-export = hiera_video.cli.export:main",
            "hiera-plot = hiera_video.cli.plot_run:main",
            "hiera-ava-eval = hiera_video.cli.ava_eval:main",
            "hiera-visualize-mae = hiera_video.cli.visualize_mae:main",
            "hiera-app = hiera_video.cli.app:main",
        ],
    },
)
