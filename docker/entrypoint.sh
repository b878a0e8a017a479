#!/usr/bin/env bash
# Entrypoint of the Percept images (docker/jetson.Dockerfile, docker/x86.Dockerfile).
#
#   (no arguments)           ros2 launch percept_ros perception.launch.py robot:=$ROBOT
#   NAME:=VALUE ...          the same launch with these launch arguments added
#                            (use_sim_time:=true, namespace:=/r1, log_level:=debug, ...)
#   COMMAND ...              COMMAND in the sourced environment (ros2 topic list, percept ...)
#
# Sources ROS 2 ($ROS_SETUP, default /opt/ros/$ROS_DISTRO/setup.bash) and the colcon
# workspace ($PERCEPT_HOME/install). ros2 runs on the image's venv interpreter: the
# launch file imports percept, whose numpy/OpenCV live in the venv.
set -eo pipefail

percept_home="${PERCEPT_HOME:-/percept}"
# shellcheck disable=SC1090
source "${ROS_SETUP:-/opt/ros/${ROS_DISTRO:-humble}/setup.bash}"
# shellcheck disable=SC1091
source "${percept_home}/install/setup.bash"
set -u

if [ $# -gt 0 ] && [[ "$1" != *":="* ]]; then
  exec "$@"
fi
cd "${percept_home}"  # relative paths of robot files (calibration/<robot>) resolve here
# `ros2` itself (ros2cli's console script, ros2cli.cli:main) on the venv's interpreter.
exec "${PERCEPT_VENV:-/opt/percept-venv}/bin/python" -c 'import sys; from ros2cli.cli import main; sys.exit(main())' \
  launch percept_ros perception.launch.py "robot:=${ROBOT:-example}" "$@"
