# Percept on a Jetson (Orin): JetPack 6.1 / L4T r36.4.0, ROS 2 Humble, the system CUDA 12.6
# and TensorRT 10.3, detection on TensorRT through pycuda. Build on the Jetson (arm64):
#   docker build -f docker/jetson.Dockerfile -t percept:jetson .
#   ROBOT=euroc docker compose -f docker/compose.yaml up jetson
# The host must run L4T r36 (JetPack 6.x) with the NVIDIA container runtime.
#
# Pins (tests/test_docker.py checks each):
# - base: nvcr.io/nvidia/l4t-jetpack:r36.4.0 by its arm64 digest (image of 2024-10-24), as
#   pinned by public builds (nixpkgs-style dockerTools.pullImage, Jetson Dockerfiles).
#   It is Ubuntu 22.04 with CUDA, cuDNN and TensorRT installed: JetPack 6.1 = L4T r36.4,
#   CUDA 12.6, TensorRT 10.3, cuDNN 9.3, Python 3.10 (pytorch/TensorRT docs/jetpack.rst,
#   PR #3211; research notes wave2 §3.1). The image's dpkg versions: TensorRT
#   10.3.0.30-1+cuda12.5 (libnvinfer10, python3-libnvinfer), cudart 12.6.68, cuDNN 9.3.0.75.
# - TensorRT's Python bindings exist for the system python3.10 only (no aarch64 wheels on
#   PyPI, NVIDIA/TensorRT#2896, #4176): the venv is made --system-site-packages.
# - pycuda: built from its sdist against /usr/local/cuda's headers and libraries (the
#   driver library from the CUDA stubs at build time, the real one from the runtime).
# - apt: ROS packages from the dated snapshot snapshots.ros.org/humble/<date> (key
#   4B63CF8FDE49746E98FA01DDAD19BAB3CBF125EA); TensorRT pinned by version (a no-op when the
#   base has it, a failure when it has another). Ubuntu's arm64 (ports) archive has no
#   dated snapshot service, so its few packages come from jammy-updates.
# - pip: docker/requirements-jetson.txt, every package at ==, resolved by pip for CPython
#   3.10 manylinux aarch64.
FROM nvcr.io/nvidia/l4t-jetpack:r36.4.0@sha256:34ccf0f3b63c6da9eee45f2e79de9bf7fdf3beda9abfd72bbf285ae9d40bb673

ARG L4T_VERSION=r36.4.0
ARG JETPACK_VERSION=6.1
ARG CUDA_VERSION=12.6
ARG TENSORRT_DEB_VERSION=10.3.0.30-1+cuda12.5
ARG PYCUDA_VERSION=2026.1
ARG ROS_SNAPSHOT=2026-09-14
ARG ROS_SNAPSHOT_KEY=4B63CF8FDE49746E98FA01DDAD19BAB3CBF125EA

LABEL org.opencontainers.image.title="percept-jetson" \
      org.opencontainers.image.description="Percept ROS 2 perception stack, Jetson, TensorRT" \
      org.opencontainers.image.base.name="nvcr.io/nvidia/l4t-jetpack:r36.4.0" \
      percept.l4t="${L4T_VERSION}" \
      percept.jetpack="${JETPACK_VERSION}" \
      percept.cuda="${CUDA_VERSION}" \
      percept.tensorrt="${TENSORRT_DEB_VERSION}" \
      percept.ros.distro="humble" \
      percept.ros.snapshot="${ROS_SNAPSHOT}"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PERCEPT_HOME=/percept \
    PERCEPT_VENV=/opt/percept-venv \
    PERCEPT_CONFIG_ROOT=/percept \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    CUDA_HOME=/usr/local/cuda

# The ROS 2 Humble apt source: the dated snapshot (JetPack 6 is Ubuntu 22.04, jammy).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
    && gpg_home="$(mktemp -d)" \
    && gpg --batch --homedir "${gpg_home}" --keyserver hkp://keyserver.ubuntu.com:80 \
        --recv-keys "${ROS_SNAPSHOT_KEY}" \
    && gpg --batch --homedir "${gpg_home}" --export "${ROS_SNAPSHOT_KEY}" \
        > /usr/share/keyrings/ros-snapshots.gpg \
    && rm -rf "${gpg_home}" \
    && echo "deb [signed-by=/usr/share/keyrings/ros-snapshots.gpg] http://snapshots.ros.org/humble/${ROS_SNAPSHOT}/ubuntu jammy main" \
        > /etc/apt/sources.list.d/ros2-snapshot.list \
    && rm -rf /var/lib/apt/lists/*

# ROS 2 Humble ros-base, percept_ros's exec_depends (src/percept_ros/package.xml), colcon,
# a compiler and Python headers for pycuda, the libraries Open3D's wheel loads; the
# system TensorRT at its pinned version; then the versions the image must have.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ros-humble-ros-base ros-humble-vision-msgs ros-humble-message-filters \
        ros-humble-tf2-ros-py ros-humble-diagnostic-msgs ros-humble-visualization-msgs \
        ros-humble-stereo-msgs ros-humble-nav-msgs ros-humble-launch-ros \
        python3-colcon-common-extensions python3-venv python3-dev build-essential \
        libgomp1 libusb-1.0-0 \
        "python3-libnvinfer=${TENSORRT_DEB_VERSION}" "libnvinfer10=${TENSORRT_DEB_VERSION}" \
    && rm -rf /var/lib/apt/lists/* \
    && test "$(dpkg-query -W -f='${Version}' python3-libnvinfer)" = "${TENSORRT_DEB_VERSION}" \
    && python3 -c "import json, sys; v = json.load(open('/usr/local/cuda/version.json'))['cuda']['version']; sys.exit(not v.startswith('${CUDA_VERSION}.'))" \
    && test "$(python3 -c 'import sys; print(sys.version_info[:2] == (3, 10))')" = True

# A venv on the system Python 3.10 that sees TensorRT, rclpy and colcon
# (--system-site-packages); its numpy/scipy/OpenCV shadow Ubuntu's older ones.
COPY docker/requirements-jetson.txt /tmp/requirements.txt
RUN python3 -m venv --system-site-packages "${PERCEPT_VENV}" \
    && "${PERCEPT_VENV}/bin/python" -m pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
ENV PATH="${PERCEPT_VENV}/bin:${CUDA_HOME}/bin:${PATH}"

# pycuda from source against the CUDA of the image: nvcc on PATH gives CUDA_ROOT, CPATH and
# LIBRARY_PATH hand gcc /usr/local/cuda's headers and libraries (libcuda from the stubs; the
# container runtime mounts the real driver). No build isolation: it builds against the
# venv's pinned numpy and setuptools. Both modules must resolve in the venv (imported only
# at run time: loading them needs the GPU driver the runtime mounts).
RUN CUDA_ROOT="${CUDA_HOME}" \
    CPATH="${CUDA_HOME}/include" \
    LIBRARY_PATH="${CUDA_HOME}/lib64:${CUDA_HOME}/lib64/stubs" \
    python -m pip install --no-cache-dir --no-build-isolation --no-binary pycuda \
        "pycuda==${PYCUDA_VERSION}" \
    && python -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('pycuda') and u.find_spec('tensorrt')))"

# The colcon workspace. colcon runs on the venv's interpreter, so the percept_<type>
# console scripts start with it (checked here, the build fails otherwise).
WORKDIR ${PERCEPT_HOME}
COPY colcon.meta ./
COPY src/ src/
COPY config/ config/
COPY calibration/ calibration/
COPY launch/ launch/
RUN . /opt/ros/humble/setup.bash \
    && python "$(command -v colcon)" build --base-paths src \
    && head -n 1 install/percept_ros/lib/percept_ros/percept_resize | grep -q "${PERCEPT_VENV}/bin/python" \
    && rm -rf build log \
    && { dpkg-query -W 'ros-humble-*' 'cuda-cudart-*' 'libnvinfer*' 'python3-libnvinfer*' \
         && python -m pip freeze; } > versions.txt

COPY docker/entrypoint.sh /usr/local/bin/percept-entrypoint
ENV ROBOT=example \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=all
ENTRYPOINT ["/usr/local/bin/percept-entrypoint"]
