"""``--aoi FILE``: the one AOI option of process, batch, live and report (:mod:`gazecam.aoi`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..aoi import AOISet

AOI_HELP = ("areas of interest (JSON: {\"aois\": [{\"name\": \"screen\", \"xyxy_norm\": [x0, y0, x1, y1]}, "
            "{\"name\": \"door\", \"polygon_norm\": [[x, y], ...]}]}; pixel forms xyxy / polygon; optional "
            "start_s / end_s): each record gets the AOI its gaze point is in")


def add_aoi_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, help: str = AOI_HELP) -> None:
    parser.add_argument("--aoi", metavar="FILE", default=None, help=help)


def aois_from_args(args: argparse.Namespace) -> "AOISet | None":
    """The AOI file of ``--aoi`` (validated; one-line error naming the file and the item), or None."""
    from ..aoi import load_aois

    path = getattr(args, "aoi", None)
    return None if path is None else load_aois(path)
