"""Output sinks (context managers), re-exported here:

* :class:`VideoSink` (:mod:`.video`): the annotated H.264 mp4, the input's audio kept, always finalised;
* :class:`ClipWriter` (:mod:`.clip`): a VideoSink with gap filling and letterboxing;
* :class:`RecordsSink` (:mod:`.records`): one JSON line (or CSV row) per person per frame.

Every output goes to a temporary file renamed into place when complete (:mod:`gazecam.outputs`).  No torch
import here.
"""

from gazecam.errors import SinkError
from gazecam.records.format import CSV_COLUMNS, RECORD_FIELDS

from .clip import ClipWriter
from .records import RecordsSink
from .video import VideoSink, fps_fraction

__all__ = ["SinkError", "VideoSink", "ClipWriter", "RecordsSink", "RECORD_FIELDS", "CSV_COLUMNS", "fps_fraction"]
