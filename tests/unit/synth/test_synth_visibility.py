"""The ground truth's visible fractions: a parallel topic that round-trips and pairs by id."""

from __future__ import annotations

import numpy as np

from percept import codecs
from percept.domain import Detection2DArray
from percept.eval.difficulty import visible_fractions_of
from percept.io.bag import BagReader
from percept.io.typestore import get_typestore
from percept.synth.generate import VISIBILITY_TOPIC, SynthResult

BOXES = "/ground_truth/left/detections_2d"


def _frames(result: SynthResult) -> dict[str, list[Detection2DArray]]:
    store = get_typestore()
    out: dict[str, list[Detection2DArray]] = {BOXES: [], VISIBILITY_TOPIC: []}
    with BagReader(result.bag) as bag:
        for m in bag.messages(list(out)):
            obj = codecs.decode(m.msgtype, store.deserialize_cdr(m.raw or b"", m.msgtype))
            assert isinstance(obj, Detection2DArray)
            out[m.topic].append(obj)
    return out


def test_visibility_repeats_the_boxes_with_the_visible_fraction(small_bag: SynthResult) -> None:
    frames = _frames(small_bag)
    boxes, seen = frames[BOXES], frames[VISIBILITY_TOPIC]
    assert len(seen) == len(boxes) == small_bag.counts[VISIBILITY_TOPIC] == 15
    fractions = []
    for b, v in zip(boxes, seen, strict=True):
        assert v.header == b.header
        assert [d.id for d in v.detections] == [d.id for d in b.detections]
        assert [d.size_uv for d in v.detections] == [d.size_uv for d in b.detections]
        assert [d.results[0].class_id for d in v.detections] == [
            d.results[0].class_id for d in b.detections
        ]
        assert all(d.results[0].score == 1.0 for d in b.detections)  # boxes keep score 1
        fractions += [d.results[0].score for d in v.detections]
    f = np.array(fractions)
    assert f.size > 20
    assert ((f > 0) & (f <= 1)).all()
    assert (f < 0.5).any()  # some objects are mostly hidden (racks, other objects)
    assert (f > 0.95).any()
    # the eval reads them back in its own box order
    assert np.array_equal(visible_fractions_of(boxes, seen), f)
