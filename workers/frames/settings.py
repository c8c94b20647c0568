"""Typed settings of the frames stage; every field names its environment variable."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gait.vision.segment import SegmentConfig
from workers.frames.sources import SourceSettings
from workers.frames.tracker import TrackerConfig


class FramesSettings(BaseSettings):
    """Settings of the frames stage; each can be set by the environment variable named."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_FRAMES_", extra="forbid")

    window: int = Field(30, ge=4, le=1024, description="GAITLINE_FRAMES_WINDOW: frames per window")
    stride: int = Field(15, ge=1, le=1024,
                        description="GAITLINE_FRAMES_STRIDE: frames between the starts of two windows")
    min_window: int = Field(20, ge=4, le=1024, description="GAITLINE_FRAMES_MIN_WINDOW: a track that ends "
                            "before it fills a window still gets one of every frame seen, if it has at least "
                            "this many (a short crossing of a close camera's view); at or above "
                            "GAITLINE_FRAMES_WINDOW: no short windows")
    min_quality: float = Field(0.7, ge=0, le=1, description="GAITLINE_FRAMES_MIN_QUALITY: windows whose "
                               "share of plausible silhouettes is lower are dropped and counted")
    max_gap_frames: int = Field(3, ge=0, description="GAITLINE_FRAMES_MAX_GAP_FRAMES: a track unseen "
                                "for longer restarts its window (gait needs consecutive frames)")
    bgsub: Literal["mog2", "knn"] = Field("mog2", description="GAITLINE_FRAMES_BGSUB: background model")
    scale: float = Field(0.4, gt=0.05, le=1, description="GAITLINE_FRAMES_SCALE: resolution factor "
                         "the background model runs at")
    history: int = Field(300, ge=10, description="GAITLINE_FRAMES_HISTORY: background model memory, frames")
    var_threshold: float = Field(16.0, gt=0, description="GAITLINE_FRAMES_VAR_THRESHOLD: MOG2 threshold")
    min_height_px: int = Field(36, ge=8, description="GAITLINE_FRAMES_MIN_HEIGHT_PX: smallest person, "
                               "full-resolution pixels")
    refine: bool = Field(True, description="GAITLINE_FRAMES_REFINE: refine silhouettes at full "
                         "resolution inside each box")
    hog: bool = Field(False, description="GAITLINE_FRAMES_HOG: confirm boxes with OpenCV's HOG people "
                      "detector (slower)")
    silhouettes: Literal["mog2", "learned"] = Field(
        "learned", description="GAITLINE_FRAMES_SILHOUETTES: who cuts each walker's silhouette once motion has "
        "found them: learned = a person segmentation trained on real people, in a crop around each moving "
        "blob (gait/vision/learned.py); mog2 = the background model alone (faster, but it loses bodies "
        "whose colour is close to the background; see docs/evaluation.md)")
    keyframe_crop: bool = Field(
        False, description="GAITLINE_FRAMES_KEYFRAME_CROP: attach to each window a small JPEG of the person in "
        "its middle frame, stored with the sighting as evidence next to the gait energy image. It shows a face "
        "and clothes (the gait energy image does not): off by default; where on, it is kept and deleted with "
        "the sighting (retention, forget)")
    pose: bool = Field(False, description="GAITLINE_FRAMES_POSE: run the pose model (BlazePose) on each tracked "
                       "person's crop and attach smoothed keypoints of the legs and trunk to each window "
                       "(~45 ms per walker per frame on one core; gaitline analyze runs pose on its own)")
    track_id_base: int | None = Field(
        None, ge=0, le=2**62, description="GAITLINE_FRAMES_TRACK_ID_BASE: the first track id of each camera. "
        "Unset: 0 for a file (a replay after a restart gives the same window ids, so nothing is stored twice) and "
        "the clock for a live stream (ids stay unique across restarts). Set it to run a recording again as a new "
        "pass of the same people (`gaitline demo` does on its second run)")
    min_hits: int = Field(3, ge=1, description="GAITLINE_FRAMES_MIN_HITS: frames that confirm a track")
    max_lost_s: float = Field(1.5, ge=0, description="GAITLINE_FRAMES_MAX_LOST_S: seconds a track "
                              "coasts through an occlusion before it ends")
    relink_s: float = Field(3.0, ge=0, description="GAITLINE_FRAMES_RELINK_S: seconds in which a new "
                            "track may continue a lost one's id")
    gate_m: float = Field(1.2, gt=0, description="GAITLINE_FRAMES_GATE_M: association gate, metres "
                          "(calibrated cameras)")
    gate_rel: float = Field(0.6, gt=0, description="GAITLINE_FRAMES_GATE_REL: association gate as a "
                            "share of the box height (uncalibrated cameras)")
    colour_gate: float = Field(0.6, gt=0, le=1, description="GAITLINE_FRAMES_COLOUR_GATE: how differently "
                               "dressed (Bhattacharyya distance) a detection may be from a track's walker "
                               "and still be them; 1 = tell walkers apart by motion only")
    reconnect_initial_s: float = Field(0.5, gt=0, description="GAITLINE_FRAMES_RECONNECT_INITIAL_S: "
                                       "first reconnect delay of a lost live stream")
    reconnect_max_s: float = Field(30.0, gt=0, description="GAITLINE_FRAMES_RECONNECT_MAX_S: longest "
                                   "reconnect delay (exponential backoff)")
    stall_timeout_s: float = Field(10.0, gt=0, description="GAITLINE_FRAMES_STALL_TIMEOUT_S: a live "
                                   "stream silent this long is reconnected (watchdog)")
    opencv_threads: int = Field(1, ge=0, description="GAITLINE_FRAMES_OPENCV_THREADS: OpenCV worker "
                                "threads (1: cameras run in parallel instead)")

    def segment_config(self) -> SegmentConfig:
        """The segmenter's knobs."""
        return SegmentConfig(method=self.bgsub, scale=self.scale, history=self.history,
                             var_threshold=self.var_threshold, min_height_px=self.min_height_px,
                             refine=self.refine, hog=self.hog, silhouettes=self.silhouettes)

    def tracker_config(self, fps: float) -> TrackerConfig:
        """The tracker's knobs for a camera at ``fps``."""
        return TrackerConfig(fps=fps, gate_m=self.gate_m, gate_rel=self.gate_rel, min_hits=self.min_hits,
                             max_lost_s=self.max_lost_s, relink_s=self.relink_s, colour_gate=self.colour_gate)

    def source_settings(self) -> SourceSettings:
        """The sources' knobs."""
        return SourceSettings(reconnect_initial_s=self.reconnect_initial_s,
                              reconnect_max_s=self.reconnect_max_s, stall_timeout_s=self.stall_timeout_s)
