"""The photos a products CSV names, from a folder or a .zip, read one at a time and never trusted.

Invariant: a name reaches only a regular file whose resolved path lies inside the folder, or a member of
the zip. Every read streams with limits that hold whatever the archive claims: at most ``MAX_IMAGE_BYTES``
per photo, at most ``MAX_COMPRESSION_RATIO`` times a member's packed size (beyond ``RATIO_FREE_BYTES``), at
most ``max_unpacked_bytes`` unpacked from one archive in all; so memory never grows with claimed sizes. A
photo that breaks a rule, or whose CRC or sizes lie, fails alone with an ``ImageError`` naming it.
"""

from __future__ import annotations

import functools
import hashlib
import lzma
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from assistant.errors import AssistantError
from assistant.images import (
    IMAGE_SUFFIXES,
    MAX_IMAGE_BYTES,
    ImageError,
    file_kind,
    grew_while_read,
    megabytes,
    open_regular_file,
    too_large,
)
from assistant.reasons import Reason

#: A photo inflating more than this many times its packed size is refused: JPEG, PNG and WebP hardly shrink.
MAX_COMPRESSION_RATIO = 100
#: Members unpacking to at most this much are exempt from the ratio rule (a small blank BMP may shrink more).
RATIO_FREE_BYTES = 2 * 2**20
#: What one ingest may unpack from an archive in all (each member counted once).
MAX_UNPACKED_BYTES = 4 * 2**30
CHUNK_BYTES = 2**20
#: What a damaged member raises while it is read: a lying CRC or size, a broken stream, an unknown method, a
#: local header whose name is not the UTF-8 it claims.
_DAMAGED_MEMBER_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    NotImplementedError,
    UnicodeDecodeError,
)


class PhotoSourceError(AssistantError):
    """The --images folder or zip as a whole cannot be used (missing, not a folder or zip, unreadable)."""


class ImageFiles:
    """Photos named by relative path, from a folder or a zip; names can't escape the source."""

    def __init__(self, source: str | Path | None, max_unpacked_bytes: int = MAX_UNPACKED_BYTES):
        self.source = Path(source) if source else None
        self.max_unpacked_bytes = max_unpacked_bytes
        self._folder: Path | None = None
        self._zip: zipfile.ZipFile | None = None
        self._zip_opened_by = os.getpid()
        self._zip_names: dict[str, str] = {}
        self._unpacked_members: set[str] = set()
        self._unpacked_bytes = 0
        if self.source is not None:
            self._open_source(self.source)

    def _open_source(self, source: Path) -> None:
        try:
            mode = source.stat().st_mode
        except FileNotFoundError:
            raise PhotoSourceError(f"image source {source} does not exist") from None
        except OSError as exc:
            raise PhotoSourceError(f"cannot open image source {source}: {exc.strerror or exc}") from exc
        if stat.S_ISDIR(mode):
            self._folder = source.resolve()
            return
        if not stat.S_ISREG(mode):
            raise PhotoSourceError(f"image source {source} is {file_kind(mode)}, neither a folder nor a .zip file")
        if not zipfile.is_zipfile(source):
            raise PhotoSourceError(f"image source {source} is neither a folder nor a .zip file")
        try:
            self._zip = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, NotImplementedError, UnicodeDecodeError) as exc:
            raise PhotoSourceError(f"image source {source} is not a readable .zip file ({exc})") from exc
        members = [m.filename for m in self._zip.infolist() if not m.is_dir()]
        self._zip_names = {m: m for m in members}
        root = _common_top_folder(members)
        if root:  # a zip of a folder: accept names with or without that folder
            self._zip_names.update({m[len(root) + 1 :]: m for m in members})

    def _clean(self, name: str) -> str:
        path = PurePosixPath(name.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts:
            raise ImageError(Reason("image.path_escapes", {"name": repr(name)}))
        return str(path)

    def check(self, name: str) -> None:
        """Raise ImageError when the photo is missing, outside the source, not a file or claims too many bytes."""
        name = self._clean(name)
        if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise ImageError(Reason("image.not_image_name", {"name": repr(name), "suffixes": suffixes}))
        if self.source is None:
            raise ImageError(Reason("image.no_source", {"name": repr(name)}))
        if self._zip is not None:
            info = self._member(name)
            size = info.file_size
        else:
            with self._open_folder_file(name) as handle:
                size = os.fstat(handle.fileno()).st_size
        if size > MAX_IMAGE_BYTES:
            raise ImageError(too_large(repr(name), size))

    def _member(self, name: str) -> zipfile.ZipInfo:
        member = self._zip_names.get(name)
        if member is None:
            raise ImageError(Reason("image.not_in_archive", {"name": repr(name), "archive": self.source.name}))
        info = self._zip.getinfo(member)
        if info.flag_bits & 0x1:
            raise ImageError(Reason("image.encrypted", {"name": repr(name), "archive": self.source.name}))
        return info

    def _folder_path(self, name: str) -> Path:
        """The resolved path of a photo in the folder; a link that leads out of the folder is refused."""
        resolved = Path(os.path.realpath(self._folder / name))
        if not resolved.is_relative_to(self._folder):
            raise ImageError(Reason("image.link_outside", {"name": repr(name), "target": str(resolved)}))
        return resolved

    def _open_folder_file(self, name: str) -> BinaryIO:
        return open_regular_file(self._folder_path(name), str(self.source / name))

    def digest(self, name: str) -> str:
        """SHA-256 of the photo, streamed: nothing of it stays in memory."""
        hasher = hashlib.sha256()
        self._copy(self._clean(name), hasher.update)
        return hasher.hexdigest()

    def read(self, name: str) -> bytes:
        """The photo's bytes (at most MAX_IMAGE_BYTES), for storing one photo at a time."""
        parts: list[bytes] = []
        self._copy(self._clean(name), parts.append)
        return b"".join(parts)

    def loader(self, name: str) -> Callable[[], bytes]:
        """Reads the photo when called, in whichever process calls it: how the embedder's workers get photos
        one at a time as they decode them, instead of a batch unpacked beforehand."""
        return functools.partial(self.read, name)

    def _archive(self) -> zipfile.ZipFile:
        """This process's own handle on the zip. A forked decoding worker must not read through the parent's:
        the two would share one file offset under two read buffers and garble each other's next reads."""
        if self._zip_opened_by != os.getpid():
            self._zip = zipfile.ZipFile(self.source)
            self._zip_opened_by = os.getpid()
        return self._zip

    def __getstate__(self) -> dict:
        """A worker started by spawn reopens the source (one started by fork reopens the zip on first read)."""
        return {"source": self.source, "max_unpacked_bytes": self.max_unpacked_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["source"], state["max_unpacked_bytes"])

    def _copy(self, name: str, sink: Callable[[bytes], object]) -> None:
        """Stream the photo into ``sink`` chunk by chunk, enforcing every limit on the bytes actually read."""
        self.check(name)
        if self._zip is None:
            with self._open_folder_file(name) as handle:
                _pump(handle, sink, lambda total: self._folder_limit(name, total))
            return
        info = self._member(name)
        with self._member_errors(name), self._archive().open(info) as handle:
            total = _pump(handle, sink, lambda size: self._member_limit(name, info, size))
        if info.filename not in self._unpacked_members:
            self._unpacked_members.add(info.filename)
            self._unpacked_bytes += total

    def _folder_limit(self, name: str, total: int) -> None:
        if total > MAX_IMAGE_BYTES:
            raise ImageError(grew_while_read(repr(name)))

    def _member_limit(self, name: str, info: zipfile.ZipInfo, total: int) -> None:
        if total > MAX_IMAGE_BYTES:
            limit, claimed = MAX_IMAGE_BYTES // 2**20, megabytes(info.file_size)
            values = {"name": repr(name), "limit": limit, "archive": self.source.name, "size": claimed}
            raise ImageError(Reason("image.member_lies", values))
        if total > RATIO_FREE_BYTES and total > MAX_COMPRESSION_RATIO * info.compress_size:
            packed = f"{info.compress_size:,}"
            values = {"name": repr(name), "ratio": MAX_COMPRESSION_RATIO, "packed": packed, "archive": self.source.name}
            raise ImageError(Reason("image.zip_bomb", values))
        if info.filename not in self._unpacked_members and self._unpacked_bytes + total > self.max_unpacked_bytes:
            unpacked, cap = megabytes(self._unpacked_bytes), megabytes(self.max_unpacked_bytes)
            values = {"name": repr(name), "unpacked": unpacked, "archive": self.source.name, "cap": cap}
            raise ImageError(Reason("image.unpack_cap", values))

    @contextmanager
    def _member_errors(self, name: str) -> Iterator[None]:
        try:
            yield
        except _DAMAGED_MEMBER_ERRORS as exc:
            values = {"name": repr(name), "archive": self.source.name, "error": str(exc)}
            raise ImageError(Reason("image.damaged", values)) from exc

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _pump(handle: BinaryIO, sink: Callable[[bytes], object], limit: Callable[[int], None]) -> int:
    """Copy ``handle`` into ``sink`` in chunks, calling ``limit(bytes so far)`` before each chunk goes on."""
    total = 0
    while chunk := handle.read(CHUNK_BYTES):
        total += len(chunk)
        limit(total)
        sink(chunk)
    return total


def _common_top_folder(names: list[str]) -> str | None:
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return tops.pop()
    return None
