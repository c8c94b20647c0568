"""Learned silhouettes: where the crop reaches, which person region is kept, one cut per person."""

from __future__ import annotations

import numpy as np

from gait.vision.learned import PersonMasks, component_over, merge_regions, overlaps, person_crop
from gait.vision.segment import Detection, SegmentConfig, _without_duplicates
from workers.frames.settings import FramesSettings


def test_the_crop_reaches_above_a_legs_only_blob_and_stays_in_the_frame() -> None:
    legs = (100, 200, 120, 240)  # x0, y0, x1, y1: 40 px of legs
    x0, y0, x1, y1 = person_crop(legs, (480, 640))
    assert y0 <= 200 - 50 and y1 >= 240  # room for a torso and head above the legs
    assert x0 <= 100 and x1 >= 120 and (x1 - x0) >= 0.9 * (y1 - y0)  # square-ish around the blob
    assert person_crop((0, 0, 10, 30), (40, 40))[:2] == (0, 0)  # clipped at the frame's corner
    assert person_crop((30, 10, 40, 40), (40, 40))[2:] == (40, 40)


def test_the_person_over_the_blob_is_kept_and_nothing_over_empty_ground() -> None:
    prob = np.zeros((100, 100), np.float32)
    prob[10:90, 20:40] = 0.9  # the walker over the blob
    prob[10:90, 70:90] = 0.9  # somebody else in the crop
    mask = component_over(prob, (22, 60, 38, 90))  # the blob: their legs
    assert mask is not None and mask[50, 30] == 1 and mask[50, 80] == 0 and mask.sum() == 80 * 20
    assert component_over(prob, (45, 60, 65, 90)) is None  # the model sees nobody over this blob
    assert component_over(np.zeros((50, 50), np.float32), (0, 0, 50, 50)) is None


def test_two_blobs_of_one_walker_give_one_detection() -> None:
    def det(box: tuple[int, int, int, int]) -> Detection:
        return Detection(box=box, score=1.0, mask=np.ones((box[3], box[2]), np.uint8), foot=(0.0, 0.0), colour=None)

    whole, again, other = det((10, 10, 20, 60)), det((11, 12, 19, 57)), det((60, 10, 20, 60))
    kept = _without_duplicates([again, other, whole])
    assert {d.box for d in kept} == {whole.box, other.box}
    assert overlaps(whole.box, again.box) > 0.9 and overlaps(whole.box, other.box) == 0.0


def test_the_setting_reaches_the_segmenter(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert FramesSettings().segment_config().silhouettes == "learned"  # the default, by measurement
    monkeypatch.setenv("GAITLINE_FRAMES_SILHOUETTES", "mog2")
    assert FramesSettings().segment_config().silhouettes == "mog2"
    assert SegmentConfig().silhouettes == "learned"


class _BrightIsPerson(PersonMasks):
    """A stand-in model: a pixel is a person where the crop is bright; counts its calls."""

    def __init__(self) -> None:  # no interpreter
        self.calls = 0

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        self.calls += 1
        return (crop[..., 2] > 127).astype(np.float32)


def _crop(h: int, w: int, c0: int, c1: int) -> np.ndarray:
    crop = np.zeros((h, w, 3), np.uint8)
    crop[h // 8:h - 2, c0:c1] = 255  # the walker, columns c0..c1
    return crop


def test_two_walkers_in_the_middle_of_their_crops_share_one_model_call() -> None:
    model = _BrightIsPerson()
    a, b = _crop(200, 200, 80, 120), _crop(120, 120, 45, 75)
    probs = model.many([a, b], [(80, 120), (45, 75)])
    assert model.calls == 1
    for crop, prob in zip((a, b), probs):
        truth = crop[..., 2] > 127
        assert prob.shape == crop.shape[:2]
        assert ((prob > 0.5) == truth).mean() > 0.97  # each walker back in their own crop


def test_a_crop_whose_blob_reaches_its_sides_runs_alone() -> None:
    model = _BrightIsPerson()
    wide, lone = _crop(100, 100, 10, 90), _crop(100, 100, 40, 60)
    probs = model.many([wide, lone], [(10, 90), (40, 60)])
    assert model.calls == 2  # the wide one alone, and the narrow one has no partner left
    assert (probs[0] > 0.5).sum() == (wide[..., 2] > 127).sum()
    assert model.many([lone], [(40, 60)])[0].shape == (100, 100) and model.calls == 3


def test_blobs_of_one_walker_are_segmented_in_one_crop() -> None:
    legs, torso, other = (100, 150, 140, 200), (102, 100, 138, 150), (400, 100, 440, 200)
    regions = [person_crop(b, (480, 640)) for b in (legs, torso, other)]
    merged, owner = merge_regions(regions)
    assert owner == [0, 0, 1] and merged[1] == regions[2]
    assert merged[0] == tuple(f(a, b) for f, a, b in zip((min, min, max, max), regions[0], regions[1]))
