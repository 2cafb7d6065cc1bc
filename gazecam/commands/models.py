"""``gazecam models list | download NAME | path NAME``."""

from __future__ import annotations

import argparse

HELP = "list, download and locate the released models (Gaze-LLE and gazelle-dinov3)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the zoo models and whether their files are cached")
    d = sub.add_parser("download", help="download (or verify) a model's files into the cache")
    d.add_argument("names", nargs="+", metavar="NAME")
    p = sub.add_parser("path", help="print the cached file paths of a model (download if needed)")
    p.add_argument("name", metavar="NAME")


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..hub import ModelCache
    from ..model import validate_model_file
    from ..zoo import DEFAULT_MODEL, DINOV3_LICENSE_URL, LICENSE_DINOV3, ZOO, get_zoo_model

    cache = ModelCache()
    if args.action == "list":
        print(f"cache: {cache.root}" + (f"   mirror: {cache.mirror}" if cache.mirror else ""))
        rows = [("name", "alias", "files", "license", "description")]
        for m in ZOO.values():
            state = "cached" if all(cache.is_cached(f) for f in m.files) else "not downloaded"
            name = m.name + (" (default)" if m.name == DEFAULT_MODEL else "")
            rows.append((name, ", ".join(m.aliases) or "-", state, m.license, m.description))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
        if any(m.license == LICENSE_DINOV3 for m in ZOO.values()):
            print(f"gazelle-dinov3 weights derive from Meta's DINOv3 and are under the DINOv3 License "
                  f"({DINOV3_LICENSE_URL}); its terms apply to their use.")
        return 0
    names = args.names if args.action == "download" else [args.name]
    for name in names:
        try:
            entry = get_zoo_model(name)
        except ValueError as e:
            raise InputError(str(e)) from e
        paths = cache.fetch(entry.files, validate=validate_model_file)
        for f, path in zip(entry.files, paths):
            print(f"{path}" if args.action == "path" else f"{name}: {f.kind} ok  {path}")
    return 0
