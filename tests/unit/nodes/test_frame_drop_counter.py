"""FrameDropCounter: frames the camera sent (camera_info stamps) that were never processed."""

from __future__ import annotations

from percept.nodes._camera import FrameDropCounter

MS = 1_000_000


def test_frames_processed_in_order_drop_nothing() -> None:
    drops = FrameDropCounter(window=30)
    for k in range(5):
        drops.saw_info(k * 33 * MS)
        drops.processed_image(k * 33 * MS)
    assert (drops.dropped, drops.recent_dropped, drops.recent_processed) == (0, 0, 5)
    assert drops.camera_period_ms() == 33.0


def test_infos_whose_images_are_skipped_count_as_dropped() -> None:
    drops = FrameDropCounter(window=30)
    for k in range(4):
        drops.saw_info(k * MS)
    drops.processed_image(3 * MS)  # newest frame wins: 0, 1 and 2 were skipped
    assert (drops.dropped, drops.recent_dropped, drops.recent_processed) == (3, 3, 1)


def test_an_info_arriving_after_a_newer_image_counts_as_dropped() -> None:
    drops = FrameDropCounter(window=30)
    drops.saw_info(2 * MS)
    drops.processed_image(2 * MS)
    drops.saw_info(2 * MS)  # the processed frame's info again: not a drop
    drops.saw_info(1 * MS)  # older than the processed image: its image was skipped
    assert drops.dropped == 1
    assert drops.recent_dropped == 0  # counted in no processed frame's figure


def test_the_recent_figures_cover_the_last_window_processed_frames() -> None:
    drops = FrameDropCounter(window=2)
    drops.saw_info(1)
    drops.saw_info(2)
    drops.processed_image(2)  # 1 dropped
    for stamp in (3, 4):
        drops.saw_info(stamp)
        drops.processed_image(stamp)
    assert (drops.dropped, drops.recent_dropped, drops.recent_processed) == (1, 0, 2)


def test_the_camera_period_needs_two_distinct_stamps() -> None:
    drops = FrameDropCounter(window=30)
    assert drops.camera_period_ms() == 0.0
    drops.saw_info(5 * MS)
    drops.saw_info(5 * MS)
    assert drops.camera_period_ms() == 0.0


def test_pending_infos_stay_bounded_when_images_never_come() -> None:
    drops = FrameDropCounter(window=30)
    for k in range(1001):
        drops.saw_info(k)
    drops.processed_image(2000)  # only the newest 100 pending stamps were kept
    assert drops.dropped == 100
