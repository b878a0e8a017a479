# Percept on x86_64: ROS 2 Humble (Ubuntu 22.04, Python 3.10), detection on ONNX Runtime (CPU).
#   docker build -f docker/x86.Dockerfile -t percept:x86 .
#   ROBOT=euroc docker compose -f docker/compose.yaml up x86
#
# Pins (tests/test_docker.py checks each):
# - base: the official ros:humble-ros-base-jammy (Ubuntu 22.04.5) by digest, as pinned in
#   public Dockerfiles of September 2026; a tag is re-pushed, a digest is not.
# - apt: ROS packages from the dated ROS snapshot repository snapshots.ros.org/humble/<date>
#   (signed by "ROS Snapshot builder", key 4B63CF8FDE49746E98FA01DDAD19BAB3CBF125EA, not the
#   packages.ros.org key), Ubuntu packages from snapshot.ubuntu.com/ubuntu/<timestamp>: one
#   date fixes every apt version (hence no per-package pins: .hadolint.yaml, DL3008).
# - pip: docker/requirements-x86.txt, every package and dependency at ==, resolved by pip
#   for CPython 3.10 manylinux x86_64 (numpy 2.2 and scipy 1.15 are the last for 3.10).
FROM ros:humble-ros-base-jammy@sha256:1813d3c85d7f96ff7d3012d865204583255740182db5d0065f8f8cd029a83138

ARG ROS_SNAPSHOT=2026-09-14
ARG UBUNTU_SNAPSHOT=20260914T000000Z
ARG ROS_SNAPSHOT_KEY=4B63CF8FDE49746E98FA01DDAD19BAB3CBF125EA

LABEL org.opencontainers.image.title="percept-x86" \
      org.opencontainers.image.description="Percept ROS 2 perception stack, x86_64, ONNX Runtime" \
      org.opencontainers.image.base.name="ros:humble-ros-base-jammy" \
      percept.ros.distro="humble" \
      percept.ros.snapshot="${ROS_SNAPSHOT}" \
      percept.ubuntu.snapshot="${UBUNTU_SNAPSHOT}"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PERCEPT_HOME=/percept \
    PERCEPT_VENV=/opt/percept-venv \
    PERCEPT_CONFIG_ROOT=/percept \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

# Apt sources: the dated snapshots only (the live ROS list would win with newer versions).
RUN gpg_home="$(mktemp -d)" \
    && gpg --batch --homedir "${gpg_home}" --keyserver hkp://keyserver.ubuntu.com:80 \
        --recv-keys "${ROS_SNAPSHOT_KEY}" \
    && gpg --batch --homedir "${gpg_home}" --export "${ROS_SNAPSHOT_KEY}" \
        > /usr/share/keyrings/ros-snapshots.gpg \
    && rm -rf "${gpg_home}" /etc/apt/sources.list.d/ros2*.list /etc/apt/sources.list.d/ros2*.sources \
    && echo "deb [signed-by=/usr/share/keyrings/ros-snapshots.gpg] http://snapshots.ros.org/humble/${ROS_SNAPSHOT}/ubuntu jammy main" \
        > /etc/apt/sources.list.d/ros2-snapshot.list \
    && sed -i -E "s#https?://(archive|security)\.ubuntu\.com/ubuntu/?#https://snapshot.ubuntu.com/ubuntu/${UBUNTU_SNAPSHOT}/#" \
        /etc/apt/sources.list

# percept_ros's exec_depends (src/percept_ros/package.xml) beyond ros-base, colcon, the
# venv module, and the libraries Open3D's wheel loads (libgomp, libusb).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ros-humble-vision-msgs ros-humble-message-filters ros-humble-tf2-ros-py \
        ros-humble-diagnostic-msgs ros-humble-visualization-msgs ros-humble-stereo-msgs \
        ros-humble-nav-msgs ros-humble-launch-ros python3-colcon-common-extensions \
        python3-venv libgomp1 libusb-1.0-0 \
    && rm -rf /var/lib/apt/lists/*

# A venv on the system Python 3.10 that still sees rclpy and colcon (--system-site-packages);
# its numpy/scipy/OpenCV shadow Ubuntu's older ones.
COPY docker/requirements-x86.txt /tmp/requirements.txt
RUN python3 -m venv --system-site-packages "${PERCEPT_VENV}" \
    && "${PERCEPT_VENV}/bin/python" -m pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
ENV PATH="${PERCEPT_VENV}/bin:${PATH}"

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
    && { dpkg-query -W 'ros-humble-*' && python -m pip freeze; } > versions.txt

COPY docker/entrypoint.sh /usr/local/bin/percept-entrypoint
ENV ROBOT=example
ENTRYPOINT ["/usr/local/bin/percept-entrypoint"]
