"""``gazecam models list | download NAME | path NAME | trust NAME``."""

from __future__ import annotations

import argparse

HELP = "list, download and locate the released models (Gaze-LLE, gazelle-dinov3) and the pose head-detector model"

POSE_NAME = "yolo11n-pose"  # the head detector's file, named like the zoo models here


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the zoo models (and the pose detector), their licences and whether their files are "
                                "cached and valid")
    d = sub.add_parser("download", help="download (or verify) a model's files into the cache")
    d.add_argument("names", nargs="+", metavar="NAME", help=f"a zoo model name or alias, or {POSE_NAME}")
    p = sub.add_parser("path", help="print the cached file paths of a model (download if needed)")
    p.add_argument("name", metavar="NAME")
    t = sub.add_parser("trust", help="confirm that files you placed in the cache by hand are the released ones "
                                     "(they are UNVERIFIED until then: no SHA-256 is published for them)")
    t.add_argument("names", nargs="+", metavar="NAME", help=f"a zoo model name or alias, or {POSE_NAME}")


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
        rows = [("name", "alias", "files", "license", "description")]
        invalid: list[tuple[str, str]] = []  # invalid and unverified files, with the reason
        for m in ZOO.values():
            for f in m.files:
                if f.filename not in states:
                    states[f.filename] = cache.check(f, validate_model_file)
            name = m.name + (" (default)" if m.name == DEFAULT_MODEL else "")
            model_states = [(f.filename, states[f.filename]) for f in m.files]
            rows.append((name, ", ".join(m.aliases) or "-", _state(model_states), m.license, m.description))
            invalid += [(fn, st.reason) for fn, st in model_states if st.status in ("invalid", "unverified")]
        pose = pose_weights()
        # always re-checked: a file recorded by an older gazecam was never validated
        pose_state = [(pose.filename, cache.check(pose, validate_pose_file, revalidate=True))]
        rows.append((POSE_NAME, "-", _state(pose_state), "AGPL-3.0 (ultralytics)",
                     "head detector (--detector pose, or auto when cached)"))
        invalid += [(fn, st.reason) for fn, st in pose_state if st.status in ("invalid", "unverified")]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
        for fn, reason in dict(invalid).items():  # each invalid file on its own line, with the reason
            print(f"      {fn}: {reason}")
        if any(st.status == "unverified" for st in [*states.values(), pose_state[0][1]]):
            print("UNVERIFIED files were placed in the cache by hand: models using them are not treated as the "
                  "released weights until you confirm them with `gazecam models trust NAME`.")
        if any(m.license == LICENSE_DINOV3 for m in ZOO.values()):
            print(f"gazelle-dinov3 weights derive from Meta's DINOv3 and are under the DINOv3 License "
                  f"({DINOV3_LICENSE_URL}); its terms apply to their use.")
        return 0
    names = args.names if args.action in ("download", "trust") else [args.name]
    for name in names:
        if name in (POSE_NAME, pose_weights().filename):
            files, validate = [pose_weights()], validate_pose_file
        else:
            try:
                files, validate = list(get_zoo_model(name).files), validate_model_file
            except ValueError as e:
                raise InputError(f"{e} (or {POSE_NAME}, the pose head detector)") from e
        if args.action == "trust":  # never downloads: only files already in the cache are confirmed
            for f in files:
                digest = cache.trust(f, validate)
                print(f"{name}: {f.kind} trusted  {cache.path(f)}  sha256 {digest}")
            continue
        paths = cache.fetch(files, validate=validate)
        for f, path in zip(files, paths):
            print(f"{path}" if args.action == "path" else f"{name}: {f.kind} ok  {path}")
    return 0


def _state(states) -> str:  # type: ignore[no-untyped-def]
    """A model's files together: INVALID when any is, then UNVERIFIED when any is, cached when all are, else
    not downloaded."""
    if any(st.status == "invalid" for _, st in states):
        return "INVALID"
    if any(st.status == "unverified" for _, st in states):
        return "UNVERIFIED"
    return "cached" if all(st.status == "cached" for _, st in states) else "not downloaded"
