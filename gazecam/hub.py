"""Model-file cache: download with progress, SHA-256 recorded and re-checked, mirror, offline errors.

Settings (environment):
  GAZECAM_HOME    cache directory (default: the user cache dir, e.g. ~/.cache/gazecam)
  GAZECAM_MIRROR  base URL serving the files under their official file names
                  (``$GAZECAM_MIRROR/gazelle_dinov2_vitb14_inout.pt``) instead of the official URLs

The cache holds ``<name>`` files plus ``manifest.json`` with the SHA-256, size and provenance of each.
Every load re-hashes the file and compares; a mismatch is an error, never a silent re-use.

Provenance (``trust`` in the manifest): ``downloaded`` by gazecam (official URL or mirror), ``published``
(placed by hand, but its SHA-256 is the published one), ``user`` (placed by hand and confirmed with
:meth:`ModelCache.trust`), or ``unverified`` (placed by hand, no published digest to check it against).
Unverified files load, but a model built from them is never called released.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .weights import WeightsError, sha256_file
from .zoo import RemoteFile

__all__ = [
    "ModelCache",
    "FileState",
    "Trust",
    "OfflineError",
    "ChecksumError",
    "default_cache_dir",
    "default_mirror",
]

MANIFEST = "manifest.json"

#: Where a cached file came from (see the module docstring).
Trust = Literal["downloaded", "published", "user", "unverified"]
TRUSTED: frozenset[str] = frozenset({"downloaded", "published", "user"})
_HAND = "placed by hand"
USER_AGENT = "gazecam (+model download)"


class OfflineError(WeightsError):
    """A needed model file is not in the cache and could not be downloaded."""


class ChecksumError(WeightsError):
    """A cached file no longer has the SHA-256 recorded when it was downloaded."""


def default_cache_dir() -> Path:
    """``$GAZECAM_HOME``, else the user cache dir; a GAZECAM_HOME that cannot be a folder is an ``InputError``."""
    env = os.environ.get("GAZECAM_HOME")
    if env:
        path = Path(env).expanduser()
        _check_home(path, env)
        return path
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gazecam", appauthor=False))


def _check_home(path: Path, setting: str) -> None:
    """GAZECAM_HOME must be a folder, or a path whose first existing parent is a folder (it is created)."""
    from .errors import InputError

    for at in (path, *path.parents):
        if not at.exists():
            continue
        if at.is_dir():
            return
        what = "is a file" if at == path else f"is inside {at}, which is a file"
        raise InputError(f"GAZECAM_HOME={setting} {what}, not a folder; point GAZECAM_HOME at a folder for the "
                         "model cache (created if missing) or unset it to use the user cache folder")


def default_mirror() -> str | None:
    return os.environ.get("GAZECAM_MIRROR") or None


@dataclass(frozen=True)
class FileState:
    """What :meth:`ModelCache.check` found for one file (``reason`` says why it is invalid or unverified).

    ``unverified``: usable, but placed in the cache by hand with no published SHA-256 to check it against.
    """

    status: Literal["cached", "missing", "invalid", "unverified"]
    reason: str = ""


@dataclass(frozen=True)
class _Failure:
    file: RemoteFile
    url: str
    reason: str


class ModelCache:
    """A directory of model files with a manifest of their SHA-256 digests."""

    def __init__(self, *, root: str | Path | None = None, mirror: str | None = None,
                 progress: bool = True, timeout_s: float = 30.0) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.mirror = mirror if mirror is not None else default_mirror()
        self.progress = progress
        self.timeout_s = timeout_s

    # -- manifest -------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def _read_manifest(self) -> dict[str, dict]:
        try:
            data = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise WeightsError(f"cache manifest {self.manifest_path} is unreadable ({e}); delete it to rebuild") from e
        return data if isinstance(data, dict) else {}

    def _write_manifest(self, data: dict[str, dict]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.manifest_path)

    def _record(self, file: RemoteFile, path: Path, digest: str, source: str, trust: Trust) -> None:
        data = self._read_manifest()
        data[file.filename] = {"sha256": digest, "size": path.stat().st_size, "source": source, "trust": trust,
                               "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self._write_manifest(data)

    @staticmethod
    def _trust_of(entry: dict) -> Trust:
        """An entry's provenance; entries of older gazecam versions have none: their ``source`` tells."""
        trust = entry.get("trust")
        if trust in ("downloaded", "published", "user", "unverified"):
            return trust  # type: ignore[return-value]
        return "unverified" if str(entry.get("source", "")).startswith(_HAND) or not entry.get("source") \
            else "downloaded"

    # -- public ---------------------------------------------------------------------------
    def path(self, file: RemoteFile) -> Path:
        return self.root / file.filename

    def url_for(self, file: RemoteFile) -> str:
        return f"{self.mirror.rstrip('/')}/{file.filename}" if self.mirror else file.url

    def is_cached(self, file: RemoteFile) -> bool:
        return self.path(file).is_file()

    def verify(self, file: RemoteFile, validate: Callable[[Path], None] | None = None) -> Path:
        """Re-hash a cached file against the manifest (recording it first if placed by hand)."""
        path = self.path(file)
        digest = sha256_file(path)
        entry = self._read_manifest().get(file.filename)
        if entry is None:
            # Put there by hand (e.g. after an offline error): check it, then record it; trusted only when
            # its digest is the published one.
            if validate is not None:
                validate(path)
            self._check_pin(file, digest, path)
            self._record(file, path, digest, source=f"{_HAND} at {path}",
                         trust="published" if file.sha256 else "unverified")
            return path
        self._check_pin(file, digest, path)
        if entry.get("sha256") != digest:
            raise ChecksumError(
                f"{path} has changed since it was recorded:\n"
                f"  recorded sha256 {entry.get('sha256')}\n  current  sha256 {digest}\n"
                f"Delete it and download it again (gazecam models download ...), or restore the original file."
            )
        return path

    def trust_of(self, file: RemoteFile) -> Trust | None:
        """The recorded provenance of a cached file (None: not recorded yet; :meth:`verify` records it)."""
        entry = self._read_manifest().get(file.filename)
        return None if entry is None else self._trust_of(entry)

    def is_trusted(self, file: RemoteFile) -> bool:
        """Whether the recorded file was downloaded by gazecam, matches its published digest or was confirmed."""
        return self.trust_of(file) in TRUSTED

    def unverified_reason(self, file: RemoteFile) -> str:
        """One line on why ``file`` is not trusted ("" when it is)."""
        if self.is_trusted(file):
            return ""
        return (f"{file.filename} was placed in the cache by hand and no SHA-256 is published for it, so it "
                "could not be verified as the released file")

    def trust(self, file: RemoteFile, validate: Callable[[RemoteFile, Path], None] | None = None) -> str:
        """Record a cached file as trusted by the user (after ``validate``); returns its SHA-256.

        A file with a published digest must match it; a file already recorded must still have its
        recorded digest (a changed file is never trusted by this).
        """
        path = self.path(file)
        if not path.is_file():
            raise OfflineError(f"{file.filename} is not in the cache: expected it at {path}")
        known = self._read_manifest().get(file.filename) is not None
        try:
            self.verify(file, (lambda p: validate(file, p)) if validate else None)  # recorded and unchanged
            if known and validate is not None:  # (verify validates the files it records)
                validate(file, path)
        except ValueError as e:
            raise WeightsError(f"{path} is not a valid {file.kind} file for {file.filename}, so it is not "
                               f"trusted: {e}") from e
        entry = self._read_manifest()[file.filename]
        if self._trust_of(entry) not in TRUSTED:
            self._record(file, path, str(entry["sha256"]), source=str(entry.get("source", f"{_HAND} at {path}")),
                         trust="user")
        return str(entry["sha256"])

    def check(self, file: RemoteFile, validate: Callable[[RemoteFile, Path], None] | None = None, *,
              revalidate: bool = False) -> FileState:
        """Whether ``file`` is usable from the cache, without downloading anything.

        ``cached``: its SHA-256 matches the manifest (a file placed by hand must pass ``validate`` and is
        then recorded); ``revalidate`` runs ``validate`` on recorded files too.  ``unverified``: like
        ``cached``, but placed by hand and not verifiable (see :meth:`trust`).  ``invalid``: the reason
        in one line.  ``missing``: not in the cache.
        """
        if not self.is_cached(file):
            return FileState("missing")
        try:
            path = self.verify(file, (lambda p: validate(file, p)) if validate else None)
            if revalidate and validate is not None:
                validate(file, path)
        except (WeightsError, ValueError, OSError) as e:
            return FileState("invalid", " ".join(ln.strip() for ln in str(e).splitlines() if ln.strip()))
        if not self.is_trusted(file):
            return FileState("unverified", self.unverified_reason(file))
        return FileState("cached")

    def fetch(self, files: Iterable[RemoteFile], *, validate: Callable[[RemoteFile, Path], None] | None = None
              ) -> list[Path]:
        """Paths of ``files`` in the cache, downloading the missing ones; all-or-nothing error."""
        files = list(files)
        failures: list[_Failure] = []
        for f in files:
            if self.is_cached(f):
                continue
            url = self.url_for(f)
            try:
                self._download(f, url, validate)
            except OfflineError as e:
                failures.append(_Failure(f, url, str(e)))
        if failures:
            raise OfflineError(self._offline_message(failures))
        return [self.verify(f, (lambda p, f=f: validate(f, p)) if validate else None) for f in files]

    # -- internals ------------------------------------------------------------------------
    def _check_pin(self, file: RemoteFile, digest: str, path: Path) -> None:
        if file.sha256 and file.sha256 != digest:
            raise ChecksumError(f"{path}: sha256 {digest} does not match the published {file.sha256}")

    def _download(self, file: RemoteFile, url: str, validate: Callable[[RemoteFile, Path], None] | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        dest = self.path(file)
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=f".{file.filename}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            try:
                req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp, os.fdopen(fd, "wb") as out:
                    total = resp.headers.get("Content-Length")
                    total_n = int(total) if total and total.isdigit() else None
                    got = self._copy_with_progress(resp, out, total_n, file.filename)
            except urllib.error.HTTPError as e:
                raise OfflineError(f"HTTP {e.code} {e.reason}") from e
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                reason = getattr(e, "reason", e)
                raise OfflineError(f"cannot connect: {reason}") from e
            if total_n is not None and got != total_n:
                raise OfflineError(f"download truncated: got {got} of {total_n} bytes")
            if validate is not None:
                try:
                    validate(file, tmp)
                except (WeightsError, ValueError) as e:
                    raise WeightsError(f"downloaded {file.filename} from {url} is not a valid {file.kind} file "
                                       f"(not kept): {e}") from e
            digest = sha256_file(tmp)
            self._check_pin(file, digest, tmp)
            os.replace(tmp, dest)  # atomic: a half-written file never has the final name
            self._record(file, dest, digest, source=url, trust="downloaded")
        finally:
            tmp.unlink(missing_ok=True)

    def _copy_with_progress(self, resp, out, total: int | None, name: str) -> int:
        from tqdm.auto import tqdm

        got = 0
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"download {name}",
                  disable=not self.progress, file=sys.stderr, leave=False) as bar:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
        return got

    def _offline_message(self, failures: list[_Failure]) -> str:
        lines = ["Model files are missing and could not be downloaded:"]
        for fl in failures:
            lines.append(f"  {fl.file.filename}  ({fl.file.kind})")
            lines.append(f"      from {fl.url}: {fl.reason}")
            lines.append(f"      put it at {self.path(fl.file)}")
        lines.append("Download them on a machine with internet access and copy them to the paths above,")
        lines.append("or set GAZECAM_MIRROR to a server that has them, or GAZECAM_HOME to another cache directory.")
        return "\n".join(lines)
