"""``gazecam models list | download NAME | path NAME``."""

from __future__ import annotations

import argparse

HELP = ("list, download and locate the released models (Gaze-LLE and gazelle-dinov3) and the pose head-detector "
        "model")

POSE_NAME = "yolo11n-pose"  # the head detector's file, named like the zoo models here


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the zoo models (and the pose detector) and whether their files are cached and valid")
    d = sub.add_parser("download", help="download (or verify) a model's files into the cache")
    d.add_argument("names", nargs="+", metavar="NAME", help=f"a zoo model name or {POSE_NAME}")
    p = sub.add_parser("path", help="print the cached file paths of a model (download if needed)")
    p.add_argument("name", metavar="NAME")


def run(args: argparse.Namespace) -> int:
    from ..detect import pose_weights, validate_pose_file
    from ..errors import InputError
    from ..hub import ModelCache
    from ..model import validate_model_file
    from ..zoo import DEFAULT_MODEL, DINOV3_LICENSE_URL, LICENSE_DINOV3, ZOO, get_zoo_model

    cache = ModelCache()
    if args.action == "list":
        print(f"cache: {cache.root}" + (f"   mirror: {cache.mirror}" if cache.mirror else ""))
        states = {}
        print(f"  {'name':<38} {'alias':<16} {'files':<15} {'license':<36} description")
        for m in ZOO.values():
            for f in m.files:
                if f.filename not in states:
                    states[f.filename] = cache.check(f, validate_model_file)
            _print_state(m.name + (" (default)" if m.name == DEFAULT_MODEL else ""),
                         [(f.filename, states[f.filename]) for f in m.files], m.description,
                         alias=", ".join(m.aliases) or "-", license=m.license)
        pose = pose_weights()
        # always re-checked: a file recorded by an older gazecam was never validated
        _print_state(POSE_NAME, [(pose.filename, cache.check(pose, validate_pose_file, revalidate=True))],
                     "head detector (--detector pose, or auto when cached)", alias="-", license="AGPL-3.0")
        if any(m.license == LICENSE_DINOV3 for m in ZOO.values()):
            print(f"gazelle-dinov3 weights derive from Meta's DINOv3 and are under the DINOv3 License "
                  f"({DINOV3_LICENSE_URL}); its terms apply to their use.")
        return 0
    names = args.names if args.action == "download" else [args.name]
    for name in names:
        if name in (POSE_NAME, pose_weights().filename):
            files, validate = [pose_weights()], validate_pose_file
        else:
            try:
                files, validate = list(get_zoo_model(name).files), validate_model_file
            except ValueError as e:
                raise InputError(f"{e} (or {POSE_NAME}, the pose head detector)") from e
        paths = cache.fetch(files, validate=validate)
        for f, path in zip(files, paths):
            print(f"{path}" if args.action == "path" else f"{name}: {f.kind} ok  {path}")
    return 0


def _print_state(name: str, states, description: str, *, alias: str, license: str) -> None:  # type: ignore[no-untyped-def]
    """One line per model (name, alias, files state, licence, description); each invalid file on its own line."""
    invalid = [(fn, st) for fn, st in states if st.status == "invalid"]
    if invalid:
        state = "INVALID"
    elif all(st.status == "cached" for _, st in states):
        state = "cached"
    else:
        state = "not downloaded"
    print(f"  {name:<38} {alias:<16} {state:<15} {license:<36} {description}")
    for fn, st in invalid:
        print(f"      {fn}: {st.reason}")
