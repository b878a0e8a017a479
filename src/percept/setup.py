"""ament_python / pip package of the ROS-free Percept core.

colcon (ament_python) and ``pip install -e src/percept`` both use this file.
"""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "percept"
HERE = Path(__file__).parent

setup(
    name=PACKAGE,
    version="0.1.0",
    description="ROS-free core of the Percept perception stack",
    long_description=(HERE / "package.xml").read_text(encoding="utf-8"),
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["py.typed", "io/msg/**/*.msg", "models/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=[
        "numpy>=1.23",
        "opencv-python-headless>=4.8",
        "scipy>=1.10",
        "pyyaml>=6",
        "rosbags>=0.10",
        "tqdm>=4.60",
        "open3d>=0.18",
        "onnxruntime>=1.16",
        "onnx>=1.14",
        "filterpy>=1.4",
        # BLAS thread limits for the VIO filter (small matrices: threads only contend)
        "threadpoolctl>=3.1",
    ],
    extras_require={
        "test": ["pytest>=7", "rosbags-image>=0.9"],
        # torch 2.13.0 is the CPU build the dev machines carry; an unpinned torch pulls a
        # multi-GB CUDA build (the training runs on a CPU)
        "train": ["torch==2.13.0"],
        # `percept eval`'s tracking metrics (MOTA, IDF1, ID switches); skipped without it
        "eval": ["motmetrics>=1.4"],
        # `percept eval` / `percept regress --engine ray`: bags on a Ray cluster
        "ray": ["ray>=2.9"],
        # `python -m percept.tools.ultralytics_check` and its test: real Ultralytics exports
        # (ultralytics brings torch and torchvision; onnxslim for its export's simplify)
        "ultralytics": ["ultralytics>=8.4", "onnxslim>=0.1.82"],
    },
    zip_safe=True,
    entry_points={"console_scripts": ["percept = percept.cli.main:main"]},
)
